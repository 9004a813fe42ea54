//! The kernel log: the `dmesg` root and its records.

use kmodel::printk::LogRecord;
use vmtriage_dsl::ast::Span;

use super::{decl_field, model_err, nth, wrong_owner, Module, Root, Shape, TypeDecl};
use crate::eval::{EvalError, Evaluator};
use crate::schema::Ty;
use crate::value::Value;

pub static MODULE: Module = Module {
    name: "log",
    doc: "the kernel log (printk ringbuffer)",
    roots: &[Root {
        name: "dmesg",
        ty: Shape::List(&Shape::Is(Ty::Record)),
        doc: "the kernel log",
        get: |ev, span| {
            let n = ev.model(span)?.dmesg().map_err(model_err(span))?.len();
            Ok(Value::list((0..n).map(Value::Record).collect()))
        },
    }],
    types: &[RECORD],
    functions: &[],
    constants: &[],
};

fn record<'m, 'k>(
    ev: &Evaluator<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<&'m LogRecord, EvalError> {
    let Value::Record(i) = v else {
        return wrong_owner("record", v, span);
    };
    nth(ev.model(span)?.dmesg(), *i, "log record", span)
}

const RECORD: TypeDecl = TypeDecl {
    name: "record",
    doc: "one record of the kernel log",
    fields: &[
        decl_field!(
            record,
            "level",
            Shape::Is(Ty::Int),
            "log level 0-7",
            |_, r, _| { Value::Int(r.level as i64) }
        ),
        decl_field!(
            record,
            "timestamp",
            Shape::Is(Ty::Float),
            "seconds since boot",
            |_, r, _| { Value::Float(r.timestamp_ns as f64 / 1e9) }
        ),
        decl_field!(
            record,
            "text",
            Shape::Is(Ty::Str),
            "message text",
            |_, r, _| { Value::str(&r.text) }
        ),
    ],
};
