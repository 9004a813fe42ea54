//! Kernel globals by name: `sym` and `sym_opt` (the function forms of
//! `@name` and `@?name`).

use super::{fail, Args, Ctx, Function, Module, Param, Shape, Sig, R};
use crate::ty::{Need, Ty};
use crate::value::Value;

const NAME: &[Param] = &[Param {
    name: "name",
    ty: Shape::Is(Ty::Str),
}];

pub static MODULE: Module = Module {
    name: "symbols",
    doc: "kernel globals by name (members through DWARF)",
    roots: &[],
    types: &[],
    functions: &[
        Function {
            name: "sym",
            needs: Need::Dump,
            sigs: &[Sig {
                params: NAME,
                result: Shape::Is(Ty::Object),
            }],
            doc: "a kernel global by name (same as @name)",
            call: |ev, a| global(ev, a, false),
        },
        Function {
            name: "sym_opt",
            needs: Need::Dump,
            sigs: &[Sig {
                params: NAME,
                result: Shape::Is(Ty::Object),
            }],
            doc: "a kernel global, null if this kernel has none (same as @?name)",
            call: |ev, a| global(ev, a, true),
        },
    ],
    constants: &[],
};

fn global<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>, optional: bool) -> R<'k> {
    match a.get(0)? {
        Value::Str(s) => ev.global(s, optional, a.span),
        _ => fail(a.span, format!("{}() needs a symbol name", a.name)),
    }
}
