//! The object model the rule language sees, as the checker types it: [`Ty`]
//! (declared in `ty.rs`), whose fields are the declarations of
//! [`crate::builtins`]; and the model printed for rule authors
//! (`vmtriage schema`, as `yr dump` does for YARA-X modules) and as JSON
//! (for the knowledge-base site and editors), both generated from them.

use crate::builtins::operators::{self, OnNull};
use crate::builtins::{self, Shape};
pub use crate::ty::Ty;

/// The schema as text (`vmtriage schema`).
pub fn render() -> String {
    let mut s = String::from("# The vmtriage object model\n\n  Each root, field and function with its type, what reading it needs\n  (nothing: the values at hand; log: a kernel log is enough; dump: the\n  kernel's memory) and what it is. A rule needs the most any of its reads\n  needs, or what it declares (`needs: log` or `needs: dump`).\n\n## Roots\n\n");
    let width = builtins::roots().map(|r| r.name.len()).max().unwrap_or(0);
    for r in builtins::roots() {
        s += &format!(
            "  {:<width$} {:<20} {:<7} {}\n",
            r.name,
            r.ty.to_string(),
            r.needs.as_str(),
            r.doc
        );
    }
    for t in builtins::types() {
        s += &format!("\n## {}\n\n  {} (needs {})\n\n", t.name, t.doc, t.needs);
        for f in t.fields {
            s += &format!(
                "  {:<16} {:<14} {:<7} {}\n",
                f.name,
                shown(&f.ty),
                t.field_needs(f).as_str(),
                f.doc
            );
        }
    }
    s += "\n## Functions\n\n";
    for f in builtins::functions() {
        for (i, sig) in f.signatures().iter().enumerate() {
            let (needs, doc) = if i == 0 {
                (f.needs.as_str(), f.doc)
            } else {
                ("", "")
            };
            s += &format!("  {sig:<52} {needs:<7} {doc}\n");
        }
    }
    s += "\n## Operators\n\n  Each overload as `operands -> result`, tried in order; a rule that applies an\n  operator to other types is refused (C011). Null operands: see each operator.\n";
    for o in operators::OPERATORS {
        s += &format!(
            "\n  {:<8} {} ({})\n",
            o.op.symbol(),
            o.doc,
            on_null(o.on_null)
        );
        for ov in o.overloads {
            let also: Vec<&str> = ov.outcomes.iter().map(|x| x.doc()).collect();
            let also = if also.is_empty() {
                String::new()
            } else {
                format!(" ({})", also.join("; "))
            };
            s += &format!("    {:<38} {}{also}\n", ov.signature(o.op), ov.doc);
        }
    }
    s += "\n## Sort and group keys\n\n  What `sort`, `top`, `group`, `min`, `max` and `unique` take as a key (null: first; `group` leaves it out):\n";
    for k in operators::SORT_KEYS {
        s += &format!("  {:<44} {}\n", k.name, k.doc);
    }
    s += "\n## Constants\n\n  ";
    s += &builtins::constants()
        .map(|c| format!("{}={}", c.name, c.value))
        .collect::<Vec<_>>()
        .join(" ");
    s += "\n\n## Kernel globals\n\n  @name reads any global through the dump's DWARF (members with .field);\n  @?name is null on kernels that lack it. Such members are checked once a dump is open.\n";
    s
}

/// What an operator does with a null operand, in words.
fn on_null(n: OnNull) -> &'static str {
    match n {
        OnNull::Null => "null if an operand is null",
        OnNull::False => "false if an operand is null",
        OnNull::Overloads => "a null operand: as its overloads say",
    }
}

/// A field's type as the schema shows it (`T` is a group's element type).
fn shown(s: &Shape) -> String {
    match s {
        Shape::Var(_) => "T".into(),
        Shape::List(Shape::Var(_)) => "list<T>".into(),
        s => s.to_string(),
    }
}

/// The schema as JSON (`vmtriage schema --format json`, the site):
/// `{roots: [{name, type, needs, doc}], types: [{name, doc, needs, fields:
/// [{name, type, needs, doc}]}], functions: [{name, module, signatures,
/// needs, doc}], operators:
/// [{operator, doc, null, overloads: [{signature, operands, result, doc,
/// outcomes}]}], sort_keys: [{name, type, doc}], constants: [{name, value, doc}]}`.
pub fn to_json() -> serde_json::Value {
    use serde_json::json;
    json!({
        "roots": builtins::roots()
            .map(|r| json!({"name": r.name, "type": r.ty.to_string(), "needs": r.needs, "doc": r.doc}))
            .collect::<Vec<_>>(),
        "types": builtins::types()
            .map(|t| json!({"name": t.name, "doc": t.doc, "needs": t.needs, "fields": t.fields.iter()
                .map(|f| json!({"name": f.name, "type": shown(&f.ty), "needs": t.field_needs(f), "doc": f.doc}))
                .collect::<Vec<_>>()}))
            .collect::<Vec<_>>(),
        "functions": builtins::MODULES.iter()
            .flat_map(|m| m.functions.iter().map(move |f| json!({"name": f.name, "module": m.name,
                "signatures": f.signatures(), "needs": f.needs, "doc": f.doc})))
            .collect::<Vec<_>>(),
        "operators": operators::OPERATORS.iter()
            .map(|o| json!({"operator": o.op.symbol(), "doc": o.doc, "null": on_null(o.on_null),
                "overloads": o.overloads.iter().map(|ov| json!({
                    "signature": ov.signature(o.op),
                    "operands": ov.operands.iter().map(shown).collect::<Vec<_>>(),
                    "result": shown(&ov.result), "doc": ov.doc,
                    "outcomes": ov.outcomes.iter().map(|x| x.doc()).collect::<Vec<_>>()}))
                .collect::<Vec<_>>()}))
            .collect::<Vec<_>>(),
        "sort_keys": operators::SORT_KEYS.iter()
            .map(|k| json!({"name": k.name, "type": k.ty.to_string(), "doc": k.doc}))
            .collect::<Vec<_>>(),
        "constants": builtins::constants()
            .map(|c| json!({"name": c.name, "value": c.value, "doc": c.doc}))
            .collect::<Vec<_>>(),
    })
}
