//! `vmtriage print`: any global or task field by a dotted path, printed with its
//! type as drgn would (`tasklist_lock.raw_lock.cnts.counter`, `task(1).comm`).

use kdebuginfo::TypeKind;
use kmodel::{Error, Kernel, Object, Result};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Printed {
    #[serde(rename = "type")]
    pub ty: String,
    pub value: serde_json::Value,
    pub address: String,
}

/// Resolves `ROOT(.member|[index])*` where ROOT is a global or `task(PID)`.
pub fn resolve<'k>(k: &'k Kernel, expr: &str) -> Result<Object<'k>> {
    let expr = expr.trim();
    let root_end = expr.find(['.', '[']).unwrap_or(expr.len());
    let (root, mut rest) = expr.split_at(root_end);
    let obj = if let Some(arg) = root.strip_prefix("task(").and_then(|r| r.strip_suffix(')')) {
        // `task(1)` may be followed by a path; the root ends at ')'.
        let pid: i32 = arg
            .trim()
            .parse()
            .map_err(|_| Error::Type(format!("task(): `{arg}` is not a pid")))?;
        let task = k
            .tasks()?
            .into_iter()
            .find(|t| t.pid == pid)
            .ok_or_else(|| Error::Type(format!("no task with pid {pid}")))?;
        k.task_object(task.obj.addr)?
    } else if root.starts_with("task(") {
        let close = expr
            .find(')')
            .ok_or_else(|| Error::Type("task( without )".into()))?;
        rest = &expr[close + 1..];
        return resolve_rest(k, resolve(k, &expr[..=close])?, rest);
    } else {
        k.global(root)?
    };
    resolve_rest(k, obj, rest)
}

fn resolve_rest<'k>(_k: &'k Kernel, mut obj: Object<'k>, mut rest: &str) -> Result<Object<'k>> {
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            obj = obj.member(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| Error::Type("missing ]".into()))?;
            let i: u64 = r[..end]
                .trim()
                .parse()
                .map_err(|_| Error::Type(format!("bad index `{}`", &r[..end])))?;
            obj = obj.index(i)?;
            rest = &r[end + 1..];
        } else {
            return Err(Error::Type(format!("unexpected `{rest}`")));
        }
    }
    Ok(obj)
}

pub fn print(k: &Kernel, expr: &str) -> Result<Printed> {
    let obj = resolve(k, expr)?;
    Ok(Printed {
        ty: obj.type_name(),
        value: value(&obj, 0)?,
        address: format!("{:#x}", obj.addr),
    })
}

fn value(o: &Object<'_>, depth: u32) -> Result<serde_json::Value> {
    use serde_json::Value as V;
    let t = o.resolved()?;
    Ok(match &t.kind {
        TypeKind::Base { .. } => {
            if o.is_signed() {
                V::from(o.as_i64()?)
            } else {
                V::from(o.as_u64()?)
            }
        }
        TypeKind::Enum { .. } => match o.enum_name()? {
            Some(n) => V::from(n),
            None => V::from(o.as_i64()?),
        },
        TypeKind::Pointer { .. } => V::from(format!("{:#x}", o.as_u64()?)),
        TypeKind::Array { elem, count } => {
            let et = o.k.debug.strip_typedefs_and_cv(*elem)?;
            if let TypeKind::Base { size: 1, .. } = o.k.debug.type_of(et)?.kind {
                return Ok(V::from(o.string()?));
            }
            let n = count.unwrap_or(0).min(64);
            let mut v = Vec::new();
            for i in 0..n {
                v.push(if depth > 4 {
                    V::from("…")
                } else {
                    value(&o.index(i)?, depth + 1)?
                });
            }
            V::Array(v)
        }
        TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => {
            if depth > 4 {
                return Ok(V::from("{…}"));
            }
            let mut m = serde_json::Map::new();
            for (i, mem) in members.iter().enumerate() {
                let name = mem.name.clone().unwrap_or_else(|| format!("<anon{i}>"));
                let child = Object {
                    k: o.k,
                    addr: o.addr + mem.offset,
                    ty: mem.ty,
                    bits: mem.bit_offset.zip(mem.bit_size),
                };
                let v = value(&child, depth + 1).unwrap_or_else(|e| V::from(format!("<{e}>")));
                m.insert(name, v);
            }
            V::Object(m)
        }
        TypeKind::Function { .. } => V::from(format!("<function at {:#x}>", o.addr)),
        TypeKind::Void => V::Null,
        TypeKind::Typedef { .. } | TypeKind::Const(_) | TypeKind::Volatile(_) => V::Null,
    })
}

/// drgn-like text: `(type)value`, structs indented.
pub fn print_text(p: &Printed) -> String {
    fn fmt(v: &serde_json::Value, indent: usize, out: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                out.push_str("{\n");
                for (k, v) in m {
                    out.push_str(&" ".repeat(indent + 1));
                    out.push_str(&format!(".{k} = "));
                    fmt(v, indent + 1, out);
                    out.push_str(",\n");
                }
                out.push_str(&" ".repeat(indent));
                out.push('}');
            }
            serde_json::Value::Array(a) => {
                out.push('{');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    fmt(v, indent, out);
                }
                out.push('}');
            }
            serde_json::Value::String(s) if !s.starts_with("0x") && !s.starts_with('<') => {
                out.push_str(&format!("{s:?}"))
            }
            serde_json::Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = format!("({})", p.ty);
    fmt(&p.value, 0, &mut out);
    out.push('\n');
    out
}
