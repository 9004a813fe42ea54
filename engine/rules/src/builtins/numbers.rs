//! Arithmetic beyond the operators: `percent`.

use super::{Function, Module, Param, Shape, Sig};
use crate::schema::Ty;
use crate::value::Value;

pub static MODULE: Module = Module {
    name: "numbers",
    doc: "arithmetic beyond the operators",
    roots: &[],
    types: &[],
    functions: &[Function {
        name: "percent",
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
    }],
    constants: &[],
};
