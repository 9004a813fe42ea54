//! Memory: the `memory` root (RAM, free pages) and its zones.

use kmodel::mm::{MemorySummary, ZoneInfo};
use vmtriage_dsl::ast::Span;

use super::{decl_field, model_err, nth, wrong_owner, Module, Root, Shape, TypeDecl};
use crate::eval::{EvalError, Evaluator};
use crate::schema::Ty;
use crate::value::Value;

pub static MODULE: Module = Module {
    name: "memory",
    doc: "RAM, free pages and zone watermarks",
    roots: &[Root {
        name: "memory",
        ty: Shape::Is(Ty::Memory),
        doc: "RAM and zone watermarks",
        get: |_, _| Ok(Value::Memory),
    }],
    types: &[MEMORY, ZONE],
    functions: &[],
    constants: &[],
};

fn memory<'m, 'k>(
    ev: &Evaluator<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<&'m MemorySummary, EvalError> {
    match v {
        Value::Memory => ev.model(span)?.memory().map_err(model_err(span)),
        _ => wrong_owner("memory", v, span),
    }
}

const MEMORY: TypeDecl = TypeDecl {
    name: "memory",
    doc: "the machine's memory",
    fields: &[
        decl_field!(
            memory,
            "totalram",
            Shape::Is(Ty::Int),
            "total RAM pages",
            |_, mem, _| { Value::Int(mem.totalram_pages as i64) }
        ),
        decl_field!(
            memory,
            "free",
            Shape::Is(Ty::Int),
            "free pages",
            |_, mem, _| { Value::Int(mem.free_pages as i64) }
        ),
        decl_field!(
            memory,
            "zones",
            Shape::List(&Shape::Is(Ty::Zone)),
            "populated zones",
            |_, mem, _| { Value::list((0..mem.zones.len()).map(Value::Zone).collect()) }
        ),
    ],
};

fn zone<'m, 'k>(
    ev: &Evaluator<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<&'m ZoneInfo, EvalError> {
    let Value::Zone(i) = v else {
        return wrong_owner("zone", v, span);
    };
    let zones = ev.model(span)?.memory().map(|m| m.zones.as_slice());
    nth(zones, *i, "zone", span)
}

const ZONE: TypeDecl = TypeDecl {
    name: "zone",
    doc: "a populated memory zone",
    fields: &[
        decl_field!(zone, "node", Shape::Is(Ty::Int), "NUMA node", |_, z, _| {
            Value::Int(z.node as i64)
        }),
        decl_field!(
            zone,
            "name",
            Shape::Is(Ty::Str),
            "DMA, DMA32, Normal, Movable",
            |_, z, _| { Value::str(&z.name) }
        ),
        decl_field!(zone, "free", Shape::Is(Ty::Int), "free pages", |_, z, _| {
            Value::Int(z.free as i64)
        }),
        decl_field!(
            zone,
            "min",
            Shape::Is(Ty::Int),
            "min watermark (pages)",
            |_, z, _| { Value::Int(z.min as i64) }
        ),
        decl_field!(
            zone,
            "low",
            Shape::Is(Ty::Int),
            "low watermark",
            |_, z, _| { Value::Int(z.low as i64) }
        ),
        decl_field!(
            zone,
            "high",
            Shape::Is(Ty::Int),
            "high watermark",
            |_, z, _| { Value::Int(z.high as i64) }
        ),
        decl_field!(
            zone,
            "present",
            Shape::Is(Ty::Int),
            "present pages",
            |_, z, _| { Value::Int(z.present as i64) }
        ),
    ],
};
