//! The checker: types a rule's expressions against the schema before any dump
//! is opened, and infers what the rule needs (a kernel log, or a dump) from
//! the needs the built-ins it reads declare. Members reached through DWARF
//! (`@x`, `.raw`) are typed `object` and checked once a dump is open.

use std::collections::BTreeMap;

use vmtriage_dsl::ast::{BinOp, Expr, ExprKind, HasPattern, Ident, Span, Stmt};

use crate::builtins::operators::{self, Op};
use crate::builtins::{self, Function, Shape};
use crate::diag::{with_article, Code};
use crate::limits::{compile_regex, MAX_BUILT_SIZE};
use crate::rule::{MessagePart, ParamValue, Rule};
use crate::ty::{Need, Ty};

/// A checker finding, with the span inside the expression it came from.
#[derive(Debug, Clone)]
pub struct Finding {
    pub code: Code,
    pub title: String,
    pub label: String,
    pub help: Option<String>,
    pub span: Span,
    /// Which text the span is in.
    pub origin: Origin,
}

/// The part of a rule file a checker finding is in.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// The `match:` program.
    Match,
    /// A `{hole}` of the message.
    Message,
    /// A `{hole}` of `dump_title`.
    DumpTitle,
    /// The Nth expression of `evidence:`.
    Evidence(usize),
    /// The declaration of this param under `params:`.
    Param(String),
}

pub fn param_ty(p: &ParamValue) -> Ty {
    match p {
        ParamValue::Int(_) => Ty::Int,
        ParamValue::Float(_) => Ty::Float,
        ParamValue::Str(_) => Ty::Str,
        ParamValue::Bool(_) => Ty::Bool,
        ParamValue::List(l) => Ty::list(l.first().map(param_ty).unwrap_or(Ty::Any)),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + (ca != *cb) as usize)
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn a_ty(t: &Ty) -> String {
    with_article(&t.to_string())
}

/// The name closest to `name` (at most two edits away), if any.
fn closest<'n>(names: &[&'n str], name: &str) -> Option<&'n str> {
    names
        .iter()
        .map(|n| (edit_distance(n, name), *n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// What a value that comes from the dump, a helper or a built-in counts
/// for in `MAX_BUILT_SIZE` (a task's comm is 16 bytes, a log line at most 1 KiB).
pub const UNKNOWN_PIECE: u64 = 4 << 10;

fn param_size(p: &ParamValue) -> u64 {
    match p {
        ParamValue::Str(s) => s.len() as u64,
        ParamValue::List(l) => l
            .iter()
            .fold(l.len() as u64, |n, x| n.saturating_add(param_size(x))),
        _ => 8,
    }
}

/// What is wrong with a regex that does not parse, from the parser's typed
/// error (its kind, without the rendering of the pattern around it).
fn syntax_error(pat: &str) -> String {
    match regex_syntax::ast::parse::Parser::new().parse(pat) {
        Err(e) => e.kind().to_string(),
        Ok(ast) => match regex_syntax::hir::translate::Translator::new().translate(pat, &ast) {
            Err(e) => e.kind().to_string(),
            Ok(_) => "not a regex the engine accepts".into(),
        },
    }
}

struct Checker<'a> {
    params: &'a BTreeMap<String, ParamValue>,
    helpers: &'a [String],
    scopes: Vec<(String, Ty)>,
    elems: Vec<Ty>,
    used: Vec<String>,
    out: Vec<Finding>,
    origin: Origin,
    /// The size bound (`MAX_BUILT_SIZE`) of each `let` and `for` binding.
    built: Vec<(String, u64)>,
    /// The strongest need of what the rule reads so far.
    need: Need,
    /// The first thing it reads that needs a dump: what, where.
    dump_use: Option<(String, Span, Origin)>,
}

/// A checked rule: what is wrong with it (nothing when it is sound), and
/// what it needs — as it declares (`needs:`), else as inferred.
#[derive(Debug, Clone)]
pub struct Checked {
    pub findings: Vec<Finding>,
    pub need: Need,
    /// The strongest need of what the rule reads (`log` at least).
    pub inferred: Need,
}

impl Checker<'_> {
    /// The rule reads `what` (at `span`), which needs `need`.
    fn uses(&mut self, need: Need, what: impl FnOnce() -> String, span: Span) {
        if need == Need::Dump && self.dump_use.is_none() {
            self.dump_use = Some((what(), span, self.origin.clone()));
        }
        self.need = self.need.max(need);
    }

    fn find(
        &mut self,
        code: Code,
        title: String,
        label: impl Into<String>,
        help: Option<String>,
        span: Span,
    ) {
        self.out.push(Finding {
            code,
            title,
            label: label.into(),
            help,
            span,
            origin: self.origin.clone(),
        });
    }

    fn name(&mut self, n: &str, span: Span) -> Ty {
        self.used.push(n.to_string());
        if n == "it" {
            if let Some(e) = self.elems.last() {
                return e.clone();
            }
        }
        if let Some((_, t)) = self.scopes.iter().rev().find(|(x, _)| x == n) {
            return t.clone();
        }
        if let Some(p) = self.params.get(n) {
            return param_ty(p);
        }
        if builtins::constant(n).is_some() {
            return Ty::Int;
        }
        if let Some(e) = self.elems.last().cloned() {
            if let Some(t) = builtins::field_type(&e, n) {
                if let Some(need) = builtins::field_needs(&e, n) {
                    self.uses(need, || format!("`{n}` of a {e}"), span);
                }
                return t;
            }
        }
        if let Some(r) = builtins::root(n) {
            self.uses(r.needs, || format!("`{n}`"), span);
            return r.ty.to_ty(None);
        }
        let close_param = self
            .params
            .keys()
            .find(|p| edit_distance(p, n) <= 2)
            .cloned();
        if let Some(p) = close_param {
            self.find(
                Code::UnknownParam,
                format!("unknown param `{n}`"),
                "not a param of this rule",
                Some(format!(
                    "did you mean the param `{p}`? params are declared under `params:`"
                )),
                span,
            );
        } else {
            let mut known: Vec<String> = self.scopes.iter().map(|(x, _)| x.clone()).collect();
            known.extend(self.params.keys().cloned());
            known.extend(builtins::roots().map(|r| r.name.to_string()));
            self.find(
                Code::UnknownName,
                format!("unknown name `{n}`"),
                "not a binding, param, constant or root",
                Some(format!("names in scope here: {}", known.join(", "))),
                span,
            );
        }
        Ty::Any
    }

    fn field(&mut self, base: &Ty, name: &str, span: Span) -> Ty {
        match builtins::field_type(base, name) {
            Some(t) => {
                if let Some(need) = builtins::field_needs(base, name) {
                    self.uses(need, || format!("`.{name}` of a {base}"), span);
                }
                t
            }
            None => {
                let owner = match base {
                    Ty::List(x) => x.as_ref(),
                    t => t,
                };
                let decl = builtins::type_decl(owner.name());
                let fields: Vec<&str> = decl
                    .map(|t| t.fields.iter().map(|f| f.name).collect())
                    .unwrap_or_default();
                // Where the type has a kernel object inside, members are read through it.
                let raw =
                    decl.and_then(|t| t.fields.iter().find(|f| f.ty == Shape::Is(Ty::Object)));
                let help = if fields.is_empty() {
                    format!("a {base} has no fields")
                } else if let Some(c) = closest(&fields, name) {
                    format!(
                        "did you mean `{c}`? fields of {}: {}",
                        owner.name(),
                        fields.join(", ")
                    )
                } else if let Some(raw) = raw {
                    format!(
                        "fields of {}: {} (kernel members: `.{}.{name}`)",
                        owner.name(),
                        fields.join(", "),
                        raw.name
                    )
                } else {
                    format!("fields of {}: {}", owner.name(), fields.join(", "))
                };
                self.find(
                    Code::UnknownModelField,
                    format!("no field `{name}` on {base}"),
                    "unknown field",
                    Some(help),
                    span,
                );
                Ty::Any
            }
        }
    }

    fn expect_list(&mut self, t: Ty, span: Span, what: &str) -> Ty {
        match t {
            Ty::List(x) => *x,
            Ty::Any | Ty::Object | Ty::Null => Ty::Any,
            Ty::Group(x) => *x,
            other => {
                self.find(
                    Code::TypeMismatch,
                    "type mismatch".into(),
                    format!("{what} needs a list, this is a {other}"),
                    None,
                    span,
                );
                Ty::Any
            }
        }
    }

    /// Checks a regex the rule gives as a literal, or as a param's default
    /// (a string or a list of strings), as the evaluator will compile it.
    fn regex_lit(&mut self, e: &Expr) {
        let pats: Vec<(String, Option<&str>)> = match &e.kind {
            ExprKind::Str(s) => vec![(s.clone(), None)],
            ExprKind::Var(n) if !self.scopes.iter().any(|(x, _)| x == n) => {
                match self.params.get(n.as_str()) {
                    Some(ParamValue::Str(s)) => vec![(s.clone(), Some(n.as_str()))],
                    Some(ParamValue::List(l)) => l
                        .iter()
                        .filter_map(|p| match p {
                            ParamValue::Str(s) => Some((s.clone(), Some(n.as_str()))),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        for (pat, param) in pats {
            let from = param
                .map(|p| format!(" (the default of param `{p}`)"))
                .unwrap_or_default();
            match compile_regex(&pat) {
                Ok(_) => {}
                Err(regex::Error::CompiledTooBig(limit)) => self.find(
                    Code::RegexTooLarge,
                    "regex too large".into(),
                    format!("this regex{from} compiles to more than {limit} bytes"),
                    Some(
                        "counted repetitions multiply (`(a{100}){100}` is 10 000 copies), and Unicode classes such as `\\w` are large: use smaller counts, `+`/`*`, or ASCII classes (`[0-9A-Za-z_]`)".into(),
                    ),
                    e.span,
                ),
                Err(err) => {
                    let msg = match &err {
                        regex::Error::Syntax(_) => syntax_error(&pat),
                        other => other.to_string(),
                    };
                    self.find(
                        Code::InvalidRegex,
                        "invalid regex".into(),
                        format!("{msg}{from}"),
                        Some(
                            "regexes use Rust `regex` syntax (no look-around or backreferences)"
                                .into(),
                        ),
                        e.span,
                    )
                }
            }
        }
    }

    /// Types a call of a built-in against its signatures: the first that
    /// takes this many arguments of these types gives the result; none is
    /// an error at the call (wrong number) or at the first wrong argument.
    fn call(&mut self, f: &Function, args: &[Expr], tys: &[Ty], name: Span, call: Span) -> Ty {
        let sigs: Vec<_> = f
            .sigs
            .iter()
            .filter(|s| s.params.len() == args.len())
            .collect();
        if sigs.is_empty() {
            self.find(
                Code::BadCall,
                format!("`{}` takes {}", f.name, f.arities()),
                format!("{} given", args.len()),
                Some(format!("call it as {}", f.signatures().join(" or "))),
                Span::new(name.start, call.end),
            );
            return Ty::Any;
        }
        // A literal regex is checked whatever else is wrong with the call.
        for (p, a) in sigs[0].params.iter().zip(args) {
            if p.ty == Shape::Regex {
                self.regex_lit(a);
            }
        }
        let mut first_bad = None;
        for sig in &sigs {
            let mut bound = None;
            let bad = sig
                .params
                .iter()
                .zip(tys)
                .position(|(p, t)| !p.ty.accepts(t, &mut bound));
            match bad {
                None => return sig.result.to_ty(bound.as_ref()),
                Some(i) => {
                    first_bad.get_or_insert((sig, i));
                }
            }
        }
        if let Some((sig, i)) = first_bad {
            let p = &sig.params[i];
            self.find(
                Code::TypeMismatch,
                format!("wrong argument type for `{}`", f.name),
                format!(
                    "`{}` needs {}, this is {}",
                    p.name,
                    p.ty.noun(),
                    a_ty(&tys[i])
                ),
                Some(format!("call it as {}", f.signatures().join(" or "))),
                args[i].span,
            );
        }
        Ty::Any
    }

    /// Types an operator applied to operands of these types, from its
    /// declarations ([`operators::OPERATORS`]); none taking them is an error
    /// at the expression.
    fn operator(&mut self, op: Op, tys: &[Ty], span: Span) -> Ty {
        if let Some(t) = operators::result_type(op, tys) {
            return t;
        }
        let nouns: Vec<String> = tys.iter().map(a_ty).collect();
        let (title, label) = match (op, nouns.as_slice()) {
            (Op::Index, [a, i]) => (
                format!("cannot index {a} with {i}"),
                format!("indexing {a}"),
            ),
            (Op::Binary(BinOp::In), [a, _]) => match &tys[1] {
                Ty::List(e) | Ty::Group(e) => (
                    format!("`in` compares {a} with {} by `==`", a_ty(e)),
                    format!("{a} is never equal to {}", a_ty(e)),
                ),
                _ => (
                    format!("`in` looks into a list, not {}", nouns[1]),
                    format!("{} is no list", nouns[1]),
                ),
            },
            (Op::Binary(BinOp::Eq | BinOp::Ne), [a, b]) => (
                format!("`{op}` does not take {a} and {b}"),
                format!("{a} is never equal to {b}"),
            ),
            (_, [a, b]) => (
                format!("`{op}` does not take {a} and {b}"),
                format!("{a} {op} {b}"),
            ),
            (_, v) => (
                format!("`{op}` does not take {}", v.join(" and ")),
                format!("`{op}` on {}", v.join(" and ")),
            ),
        };
        let help = operators::operator(op).help;
        self.find(
            Code::OperatorMismatch,
            title,
            label,
            (!help.is_empty()).then(|| help.to_string()),
            span,
        );
        Ty::Any
    }

    /// Types `a OP b`.
    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr, span: Span) -> Ty {
        let a = self.expr(lhs);
        let b = self.expr(rhs);
        if op == BinOp::Matches {
            self.regex_lit(rhs);
        }
        let (op, tys) = (Op::Binary(op), [a, b]);
        if operators::result_type(op, &tys).is_some() {
            self.constant(op, &[lhs, rhs], span);
        }
        self.operator(op, &tys, span)
    }

    /// An operation that fails whatever the dump (`1 / 0`, a constant
    /// overflow): an error now rather than on every dump.
    fn constant(&mut self, op: Op, operands: &[&Expr], span: Span) {
        if let Some(msg) = operators::constant_error(op, operands, span) {
            self.find(
                Code::ConstantError,
                "this operation always fails".into(),
                msg,
                Some("it would stop the rule with an error on every dump: ints are 64-bit, and a divisor must not be 0".into()),
                span,
            );
        }
    }

    /// Types the key of `sort`, `top` or `group` (`what`): a type with an
    /// order ([`operators::SORT_KEYS`]).
    fn sort_key(&mut self, key: &Expr, what: &str) -> Ty {
        let t = self.expr(key);
        if !operators::is_key_type(&t) {
            let keys: Vec<&str> = operators::SORT_KEYS.iter().map(|k| k.name).collect();
            self.find(
                Code::OperatorMismatch,
                format!("cannot {what} by {}", a_ty(&t)),
                format!("{} has no order", a_ty(&t)),
                Some(format!(
                    "{what} by {}; a list by its size: `count(x)`",
                    keys.join(", ")
                )),
                key.span,
            );
        }
        t
    }

    /// An upper bound of the size of what `e` builds (see `MAX_BUILT_SIZE`).
    fn built_size(&self, e: &Expr) -> u64 {
        match &e.kind {
            ExprKind::Str(s) => s.len() as u64,
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::Null => 8,
            ExprKind::List(items) => items.iter().fold(items.len() as u64, |n, x| {
                n.saturating_add(self.built_size(x))
            }),
            ExprKind::Binary {
                op: BinOp::Add,
                lhs,
                rhs,
            } => self.built_size(lhs).saturating_add(self.built_size(rhs)),
            ExprKind::Var(n) => match self.built.iter().rev().find(|(x, _)| x == n) {
                Some((_, size)) => *size,
                None => self.params.get(n).map_or(UNKNOWN_PIECE, param_size),
            },
            // What selects from a value is at most as large as it.
            ExprKind::Where { coll, .. }
            | ExprKind::Sort { coll, .. }
            | ExprKind::Top { coll, .. }
            | ExprKind::Group { coll, .. } => self.built_size(coll).max(UNKNOWN_PIECE),
            ExprKind::Index { base, .. } | ExprKind::Field { base, .. } => {
                self.built_size(base).max(UNKNOWN_PIECE)
            }
            // A built-in or helper may hand back what it was given.
            ExprKind::Call { args, .. } => args
                .iter()
                .fold(UNKNOWN_PIECE, |n, a| n.saturating_add(self.built_size(a))),
            ExprKind::Global { .. } => UNKNOWN_PIECE,
            ExprKind::Quant { .. }
            | ExprKind::Has { .. }
            | ExprKind::Unary { .. }
            | ExprKind::Binary { .. } => 8,
        }
    }

    /// A `+` or `[..]` that builds more than `MAX_BUILT_SIZE` from parts
    /// that do not (the first place the bound is crossed).
    fn check_built(&mut self, e: &Expr) {
        let parts: Vec<&Expr> = match &e.kind {
            ExprKind::List(items) => items.iter().collect(),
            ExprKind::Binary {
                op: BinOp::Add,
                lhs,
                rhs,
            } => vec![lhs, rhs],
            _ => return,
        };
        let size = self.built_size(e);
        if size <= MAX_BUILT_SIZE || parts.iter().any(|p| self.built_size(p) > MAX_BUILT_SIZE) {
            return;
        }
        let what = if matches!(e.kind, ExprKind::List(_)) {
            "list"
        } else {
            "value"
        };
        let amount = if size >= 1 << 40 {
            "more than a terabyte".to_string()
        } else {
            format!("about {size} bytes")
        };
        self.find(
            Code::ValueTooLarge,
            "value too large".into(),
            format!("this {what} could hold {amount}; a rule may build at most {MAX_BUILT_SIZE}"),
            Some("each `let` that adds a binding to itself doubles it: build a string or list once, and compare or search it instead".into()),
            e.span,
        );
    }

    /// A call: a built-in's signature, a helper, or an unknown name.
    fn call_expr(&mut self, func: &Ident, args: &[Expr], span: Span) -> Ty {
        let tys: Vec<Ty> = args.iter().map(|a| self.expr(a)).collect();
        let f = func.name.as_str();
        match builtins::function(f) {
            Some(b) => {
                self.uses(b.needs, || format!("`{f}()`"), func.span);
                self.call(b, args, &tys, func.span, span)
            }
            None if self.helpers.iter().any(|h| h == f) => Ty::Any,
            None => {
                let mut names: Vec<&str> = builtins::functions().map(|f| f.name).collect();
                names.extend(self.helpers.iter().map(|s| s.as_str()));
                let help = match closest(&names, f) {
                    Some(c) => {
                        format!("did you mean `{c}`? functions: {}", names.join(", "))
                    }
                    None => format!("functions: {}", names.join(", ")),
                };
                self.find(
                    Code::BadCall,
                    format!("unknown function `{f}`"),
                    "not a built-in or a helper",
                    Some(help),
                    func.span,
                );
                Ty::Any
            }
        }
    }

    /// `x has …`: a stack or a task, and names or a pattern.
    fn has(&mut self, stack: &Expr, pattern: &HasPattern) -> Ty {
        let t = self.expr(stack);
        if t == Ty::Task || t == Ty::list(Ty::Frame) {
            self.uses(Need::Dump, || "a task's stack (`has`)".into(), stack.span);
        }
        let ok = matches!(&t, Ty::Task | Ty::Any | Ty::Null)
            || t == Ty::list(Ty::Frame)
            || t == Ty::list(Ty::Str);
        if !ok {
            self.find(
                Code::TypeMismatch,
                "type mismatch".into(),
                format!("`has` looks into a stack or a task, this is a {t}"),
                Some("write `task has \"fn\"` or `task.stack has \"fn\"`".into()),
                stack.span,
            );
        }
        match pattern {
            HasPattern::Exact(p) | HasPattern::AnyOf(p) | HasPattern::Prefix(p) => {
                let pt = self.expr(p);
                if !matches!(pt, Ty::Str | Ty::Any)
                    && pt != Ty::list(Ty::Str)
                    && pt != Ty::list(Ty::Any)
                {
                    self.find(
                        Code::TypeMismatch,
                        "type mismatch".into(),
                        format!("a function name or a list of names, not a {pt}"),
                        None,
                        p.span,
                    );
                }
            }
            HasPattern::Regex(p) => {
                self.expr(p);
                self.regex_lit(p);
            }
        }
        Ty::Bool
    }

    fn expr(&mut self, e: &Expr) -> Ty {
        let span = e.span;
        self.check_built(e);
        match &e.kind {
            ExprKind::Null => Ty::Null,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Float(_) => Ty::Float,
            ExprKind::Str(_) => Ty::Str,
            ExprKind::List(items) => {
                let mut t = Ty::Any;
                for i in items {
                    t = self.expr(i);
                }
                Ty::list(t)
            }
            ExprKind::Var(n) => self.name(n, span),
            ExprKind::Global { name, .. } => {
                self.uses(Need::Dump, || format!("the kernel global `@{name}`"), span);
                Ty::Object
            }
            ExprKind::Field { base, name, .. } => {
                let b = self.expr(base);
                self.field(&b, &name.name, name.span)
            }
            ExprKind::Index { base, index } => {
                let b = self.expr(base);
                let i = self.expr(index);
                self.operator(Op::Index, &[b, i], span)
            }
            ExprKind::Call { func, args } => self.call_expr(func, args, span),
            ExprKind::Unary { op, expr } => {
                let t = self.expr(expr);
                let (op, tys) = (Op::Unary(*op), [t]);
                if operators::result_type(op, &tys).is_some() {
                    self.constant(op, &[expr], span);
                }
                self.operator(op, &tys, span)
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span),
            ExprKind::Where { coll, cond } => {
                let c = self.expr(coll);
                let el = self.expect_list(c, coll.span, "`where`");
                self.elems.push(el.clone());
                self.expr(cond);
                self.elems.pop();
                Ty::list(el)
            }
            ExprKind::Quant { coll, cond, .. } => {
                let c = self.expr(coll);
                let el = self.expect_list(c, coll.span, "a quantifier");
                if let Some(cond) = cond {
                    self.elems.push(el);
                    self.expr(cond);
                    self.elems.pop();
                }
                Ty::Bool
            }
            ExprKind::Has { stack, pattern } => self.has(stack, pattern),
            ExprKind::Group {
                coll,
                key,
                name,
                having,
            } => {
                let c = self.expr(coll);
                let el = self.expect_list(c, coll.span, "`group`");
                self.elems.push(el.clone());
                let kt = self.sort_key(key, "group");
                self.elems.pop();
                if let Some(h) = having {
                    if let Some(n) = name {
                        self.scopes.push((n.name.clone(), kt.clone()));
                    }
                    self.elems.push(Ty::Group(Box::new(el.clone())));
                    self.expr(h);
                    self.elems.pop();
                    if name.is_some() {
                        self.scopes.pop();
                    }
                }
                Ty::list(Ty::Group(Box::new(el)))
            }
            ExprKind::Sort { coll, key, .. } | ExprKind::Top { coll, key, .. } => {
                if let ExprKind::Top { n, .. } = &e.kind {
                    let t = self.expr(n);
                    if !matches!(t, Ty::Int | Ty::Any | Ty::Object | Ty::Null) {
                        self.find(
                            Code::TypeMismatch,
                            "type mismatch".into(),
                            format!("`top` needs a count (an int), this is {}", a_ty(&t)),
                            Some("write `top 3 of xs by k`".into()),
                            n.span,
                        );
                    }
                }
                let c = self.expr(coll);
                let el = self.expect_list(c, coll.span, "sorting");
                self.elems.push(el.clone());
                self.sort_key(key, "sort");
                self.elems.pop();
                Ty::list(el)
            }
        }
    }
}

/// Checks a parsed rule: its findings (empty when the rule is sound) and
/// its need. A rule that declares `needs: log` and reads what needs a dump
/// is C013 at the first such read.
pub fn check(rule: &Rule, helpers: &[String]) -> Checked {
    let mut c = Checker {
        params: &rule.params,
        helpers,
        scopes: Vec::new(),
        elems: Vec::new(),
        used: Vec::new(),
        out: Vec::new(),
        origin: Origin::Match,
        built: Vec::new(),
        need: Need::Log,
        dump_use: None,
    };
    let mut lets: Vec<(String, Span)> = Vec::new();
    for s in &rule.program.stmts {
        match s {
            Stmt::For { name, iter, .. } => {
                let t = c.expr(iter);
                let el = c.expect_list(t, iter.span, "`for`");
                c.scopes.push((name.name.clone(), el));
                // An element is at most as large as its collection.
                c.built
                    .push((name.name.clone(), c.built_size(iter).max(UNKNOWN_PIECE)));
            }
            Stmt::Let { name, value, .. } => {
                let t = c.expr(value);
                lets.push((name.name.clone(), name.span));
                c.scopes.push((name.name.clone(), t));
                c.built.push((name.name.clone(), c.built_size(value)));
            }
        }
    }
    let t = c.expr(&rule.program.cond);
    if !matches!(t, Ty::Bool | Ty::Any | Ty::Object | Ty::Null) {
        c.find(
            Code::TypeMismatch,
            "type mismatch".into(),
            format!("the condition is a {t}, not a bool"),
            Some("end the match with a condition, e.g. `count(x) >= min_x`".into()),
            rule.program.cond.span,
        );
    }
    for (i, (_, e, _)) in rule.evidence.iter().enumerate() {
        c.origin = Origin::Evidence(i);
        c.expr(e);
    }
    c.origin = Origin::Message;
    for (e, _) in MessagePart::holes(&rule.message) {
        c.expr(e);
    }
    c.origin = Origin::DumpTitle;
    for (e, _) in MessagePart::holes(rule.dump_title.as_deref().unwrap_or_default()) {
        c.expr(e);
    }
    // A `let` nobody reads: reported, as Sigma validators flag unused selections.
    c.origin = Origin::Match;
    for (name, span) in &lets {
        if !c.used.iter().any(|u| u == name) {
            c.find(
                Code::UnusedCapture,
                format!("unused capture `{name}`"),
                "bound here but never used",
                Some(format!(
                    "use `{name}` in the condition, the message or `evidence:`, or remove it"
                )),
                *span,
            );
        }
    }
    for p in rule.params.keys() {
        if !c.used.iter().any(|u| u == p) {
            c.origin = Origin::Param(p.clone());
            c.find(
                Code::UnusedParam,
                format!("unused param `{p}`"),
                "declared but never used",
                Some("remove it, or use it in `match:`".into()),
                Span::new(0, 0),
            );
        }
    }
    let inferred = c.need;
    if let (Some(Need::Log), Some((what, span, origin))) = (rule.doc.needs, c.dump_use.take()) {
        c.out.push(Finding {
            code: Code::NeedsDump,
            title: "this rule declares `needs: log` but reads a dump".into(),
            label: format!("{what} needs a dump (the kernel's memory)"),
            help: Some("on a kernel log alone there are only its records and the reports parsed from them (`dmesg`, `reports`, `crash`, `kernel.release`): read only those, or remove `needs: log` (the rule then needs a dump and is skipped on a log)".into()),
            span,
            origin,
        });
    }
    Checked {
        findings: c.out,
        need: rule.doc.needs.unwrap_or(inferred),
        inferred,
    }
}
