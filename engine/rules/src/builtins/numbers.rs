//! Arithmetic beyond the operators: `percent`, `hex`.

use super::{Args, Ctx, Function, Module, Param, Shape, Sig, R};
use crate::ty::{Need, Ty};
use crate::value::{Num, Value};

pub static MODULE: Module = Module {
    name: "numbers",
    doc: "arithmetic beyond the operators",
    roots: &[],
    types: &[],
    functions: &[Function {
        name: "percent",
        needs: Need::Nothing,
        sigs: &[Sig {
            params: &[
                Param {
                    name: "part",
                    ty: Shape::Num,
                },
                Param {
                    name: "whole",
                    ty: Shape::Num,
                },
            ],
            result: Shape::Is(Ty::Float),
        }],
        doc: "100 * part / whole (null if whole is 0)",
        call: |ev, a| {
            let part = ev.num(a.get(0)?, a.span(0))?.f();
            let whole = ev.num(a.get(1)?, a.span(1))?.f();
            Ok(if whole == 0.0 {
                Value::Null
            } else {
                Value::Float(100.0 * part / whole)
            })
        },
    },
    Function {
        name: "hex",
        needs: Need::Nothing,
        sigs: &[Sig {
            params: &[Param {
                name: "n",
                ty: Shape::Is(Ty::Int),
            }],
            result: Shape::Is(Ty::Str),
        }],
        doc: "an address or number in hexadecimal, as the kernel prints it (`0xdead000000000110`); null stays null",
        call: hex,
    }],
    constants: &[],
};

fn hex<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>) -> R<'k> {
    Ok(match ev.num(a.get(0)?, a.span(0))? {
        Num::I(i) => Value::str(&format!("{:#x}", i as u64)),
        Num::F(f) => Value::str(&format!("{:#x}", f as u64)),
        Num::Null => Value::Null,
    })
}
