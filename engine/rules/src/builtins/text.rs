//! Text: `capture` (a regex's group) and `version` (a comparable kernel
//! version).

use std::rc::Rc;

use super::{fail, Function, Module, Param, Shape, Sig};
use crate::ty::{Need, Ty};
use crate::value::Value;
use crate::version::parse_version;

pub static MODULE: Module = Module {
    name: "text",
    doc: "strings: regex captures, versions",
    roots: &[],
    types: &[],
    functions: &[
        Function {
            name: "capture",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: &[
                    Param {
                        name: "text",
                        ty: Shape::Is(Ty::Str),
                    },
                    Param {
                        name: "pattern",
                        ty: Shape::Regex,
                    },
                ],
                result: Shape::Is(Ty::Str),
            }],
            doc: "the regex's first group in the text, else its whole match (null if no match, or the text is null)",
            call: |ev, a| match (a.get(0)?, a.get(1)?) {
                (Value::Str(text), Value::Str(pat)) => {
                    let r = ev.regex(pat, a.span(1))?;
                    Ok(match r.captures(text) {
                        Some(c) => c
                            .get(1)
                            .or_else(|| c.get(0))
                            .map(|m| Value::str(m.as_str()))
                            .unwrap_or(Value::Null),
                        None => Value::Null,
                    })
                }
                (Value::Null, _) => Ok(Value::Null),
                _ => fail(a.span, "capture(text, regex) needs two strings"),
            },
        },
        Function {
            name: "version",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: &[Param {
                    name: "text",
                    ty: Shape::Is(Ty::Str),
                }],
                result: Shape::Is(Ty::Version),
            }],
            doc: "a kernel version parsed from text (\"6.1.0-32-amd64\"), comparable with < and >",
            call: |_, a| match a.get(0)? {
                Value::Str(s) => match parse_version(s) {
                    Some(v) => Ok(Value::Version(Rc::new(v))),
                    None => fail(a.span, format!("`{s}` is not a version")),
                },
                _ => fail(a.span, "version() needs a string"),
            },
        },
    ],
    constants: &[],
};
