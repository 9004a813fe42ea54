//! A compact S-expression form of syntax trees, for tests and debugging:
//! `tasks where a or b` is `(where tasks (or a b))`.

use crate::ast::*;
use std::fmt::Write;

impl Expr {
    /// The tree as an S-expression, operators first, fully parenthesized.
    pub fn to_sexpr(&self) -> String {
        let mut s = String::new();
        write_expr(&mut s, self);
        s
    }
}

impl Stmt {
    pub fn to_sexpr(&self) -> String {
        match self {
            Stmt::For { name, iter, .. } => format!("(for {} {})", name.name, iter.to_sexpr()),
            Stmt::Let { name, value, .. } => format!("(let {} {})", name.name, value.to_sexpr()),
        }
    }
}

impl Program {
    /// One line per statement, then the condition.
    pub fn to_sexpr(&self) -> String {
        let mut lines: Vec<String> = self.stmts.iter().map(Stmt::to_sexpr).collect();
        lines.push(self.cond.to_sexpr());
        lines.join("\n")
    }
}

fn write_list(s: &mut String, items: &[&Expr]) {
    for e in items {
        s.push(' ');
        write_expr(s, e);
    }
}

fn write_expr(s: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Null => s.push_str("null"),
        ExprKind::Bool(b) => write!(s, "{b}").unwrap(),
        ExprKind::Int(i) => write!(s, "{i}").unwrap(),
        ExprKind::Float(f) => write!(s, "{f:?}").unwrap(),
        ExprKind::Str(t) => write!(s, "{t:?}").unwrap(),
        ExprKind::List(items) => {
            s.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_expr(s, it);
            }
            s.push(']');
        }
        ExprKind::Var(n) => s.push_str(n),
        ExprKind::Global { name, optional } => {
            write!(s, "@{}{name}", if *optional { "?" } else { "" }).unwrap()
        }
        ExprKind::Field {
            base,
            name,
            optional,
        } => {
            write!(s, "({} ", if *optional { "?." } else { "." }).unwrap();
            write_expr(s, base);
            write!(s, " {})", name.name).unwrap();
        }
        ExprKind::Index { base, index } => {
            s.push_str("(index");
            write_list(s, &[base, index]);
            s.push(')');
        }
        ExprKind::Call { func, args } => {
            write!(s, "{}(", func.name).unwrap();
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_expr(s, a);
            }
            s.push(')');
        }
        ExprKind::Unary { op, expr } => {
            s.push_str(match op {
                UnOp::Not => "(not",
                UnOp::Neg => "(neg",
            });
            write_list(s, &[expr]);
            s.push(')');
        }
        ExprKind::Binary { op, lhs, rhs } => {
            write!(s, "({}", op.symbol()).unwrap();
            write_list(s, &[lhs, rhs]);
            s.push(')');
        }
        ExprKind::Where { coll, cond } => {
            s.push_str("(where");
            write_list(s, &[coll, cond]);
            s.push(')');
        }
        ExprKind::Quant { q, coll, cond } => {
            s.push_str(match q {
                Quantifier::Any => "(any",
                Quantifier::All => "(all",
                Quantifier::None => "(none",
            });
            write_list(s, &[coll]);
            if let Some(c) = cond {
                write_list(s, &[c]);
            }
            s.push(')');
        }
        ExprKind::Has { stack, pattern } => {
            let (kind, p) = match pattern {
                HasPattern::Exact(p) => ("has", p),
                HasPattern::AnyOf(p) => ("has-any", p),
                HasPattern::Prefix(p) => ("has-prefix", p),
                HasPattern::Regex(p) => ("has-regex", p),
            };
            write!(s, "({kind}").unwrap();
            write_list(s, &[stack, p]);
            s.push(')');
        }
        ExprKind::Group {
            coll,
            key,
            name,
            having,
        } => {
            s.push_str("(group");
            write_list(s, &[coll, key]);
            if let Some(n) = name {
                write!(s, " as={}", n.name).unwrap();
            }
            if let Some(h) = having {
                s.push_str(" having=");
                write_expr(s, h);
            }
            s.push(')');
        }
        ExprKind::Sort { coll, key, desc } => {
            s.push_str("(sort");
            write_list(s, &[coll, key]);
            if *desc {
                s.push_str(" desc");
            }
            s.push(')');
        }
        ExprKind::Top { n, coll, key } => {
            s.push_str("(top");
            write_list(s, &[n, coll, key]);
            s.push(')');
        }
    }
}
