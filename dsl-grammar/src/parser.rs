//! From pest's parse tree to the syntax tree of `ast.rs`.

use crate::ast::*;
use crate::error::{self, Diagnostic};
use crate::lex;
use crate::{MAX_NESTING, MAX_TREE_DEPTH};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use std::cell::RefCell;
use std::num::NonZeroUsize;
use std::sync::OnceLock;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
pub(crate) struct DslParser;

/// Budget of pest parser calls per parse. A megabyte of `a or a or …`
/// needs about 25 million; pathological backtracking is cut off here.
const CALL_LIMIT: usize = 100_000_000;

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        use Rule::*;
        let l = |r| Op::infix(r, Assoc::Left);
        // Lowest precedence first.
        PrattParser::new()
            .op(l(op_where))
            .op(l(op_or))
            .op(l(op_and))
            .op(Op::prefix(op_not))
            .op(l(op_eq)
                | l(op_ne)
                | l(op_lt)
                | l(op_le)
                | l(op_gt)
                | l(op_ge)
                | l(op_in)
                | l(op_matches)
                | l(op_has))
            .op(l(op_add) | l(op_sub))
            .op(l(op_mul) | l(op_div) | l(op_mod))
            .op(Op::prefix(op_neg))
    })
}

fn run(src: &str, rule: Rule, program: bool) -> Result<Pairs<'_, Rule>, Vec<Diagnostic>> {
    let toks = lex::tokenize(src);
    let lex_errors = lex::check(src, &toks);
    if !lex_errors.is_empty() {
        return Err(lex_errors);
    }
    pest::set_call_limit(NonZeroUsize::new(CALL_LIMIT));
    DslParser::parse(rule, src).map_err(|e| vec![error::from_pest(&e, src, &toks, program)])
}

pub fn parse_program(src: &str) -> Result<Program, Vec<Diagnostic>> {
    let mut top = run(src, Rule::program, true)?;
    let b = Builder::new(src);
    let mut stmts = Vec::new();
    let mut cond = None;
    for pair in top.next().unwrap().into_inner() {
        match pair.as_rule() {
            Rule::for_stmt | Rule::let_stmt => match b.stmt(pair) {
                Ok(s) => stmts.push(s),
                Err(d) => return Err(b.finish(Some(d))),
            },
            Rule::expr => match b.expr(pair, 0) {
                Ok(n) => cond = Some(n.expr),
                Err(d) => return Err(b.finish(Some(d))),
            },
            _ => {}
        }
    }
    let errors = b.finish(None);
    if errors.is_empty() {
        Ok(Program {
            stmts,
            cond: cond.expect("the grammar requires a condition"),
        })
    } else {
        Err(errors)
    }
}

pub fn parse_expr(src: &str) -> Result<Expr, Vec<Diagnostic>> {
    let mut top = run(src, Rule::expr_only, false)?;
    let b = Builder::new(src);
    let pair = top.next().unwrap().into_inner().next().unwrap();
    let node = b.expr(pair, 0);
    let errors = b.finish(node.as_ref().err().cloned());
    match node {
        Ok(n) if errors.is_empty() => Ok(n.expr),
        _ => Err(errors),
    }
}

/// An expression being built: its syntax tree height, and whether it was
/// written in parentheses (to tell `(a < b) == c` from `a < b == c`).
struct Node {
    expr: Expr,
    height: usize,
    paren: bool,
}

type Res = Result<Node, Box<Diagnostic>>;

struct Builder<'s> {
    src: &'s str,
    /// Errors that do not stop building (the tree is then discarded).
    soft: RefCell<Vec<Diagnostic>>,
}

fn span_of(p: &Pair<Rule>) -> Span {
    Span::new(p.as_span().start(), p.as_span().end())
}

fn node(kind: ExprKind, span: Span, height: usize) -> Res {
    if height > MAX_TREE_DEPTH {
        return Err(Box::new(Diagnostic::tree_too_deep(span)));
    }
    Ok(Node {
        expr: Expr { kind, span },
        height,
        paren: false,
    })
}

fn ident(p: &Pair<Rule>) -> Ident {
    Ident {
        name: p.as_str().to_string(),
        span: span_of(p),
    }
}

fn is_comparison(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Has { .. }
            | ExprKind::Binary {
                op: BinOp::Eq
                    | BinOp::Ne
                    | BinOp::Lt
                    | BinOp::Le
                    | BinOp::Gt
                    | BinOp::Ge
                    | BinOp::In
                    | BinOp::Matches,
                ..
            }
    )
}

impl<'s> Builder<'s> {
    fn new(src: &'s str) -> Self {
        Builder {
            src,
            soft: RefCell::new(Vec::new()),
        }
    }

    fn finish(&self, fatal: Option<Box<Diagnostic>>) -> Vec<Diagnostic> {
        let mut all = self.soft.take();
        all.extend(fatal.map(|d| *d));
        all.sort_by_key(|d| d.span.start);
        all
    }

    /// `span` without trailing whitespace and comments (pest rules that end
    /// in an optional part may include the whitespace before it).
    fn trim(&self, span: Span) -> Span {
        let toks = lex::tokenize(&self.src[span.start..span.end]);
        match (toks.first(), toks.last()) {
            (Some(f), Some(l)) => Span::new(span.start + f.span.start, span.start + l.span.end),
            _ => span,
        }
    }

    fn stmt(&self, pair: Pair<Rule>) -> Result<Stmt, Box<Diagnostic>> {
        let rule = pair.as_rule();
        let mut it = pair.into_inner();
        let kw = it.next().unwrap();
        let name = ident(&it.next().unwrap());
        it.next(); // `in` or `=`
        let value = self.expr(it.next().unwrap(), 0)?.expr;
        let span = Span::new(kw.as_span().start(), value.span.end);
        Ok(match rule {
            Rule::for_stmt => Stmt::For {
                name,
                iter: value,
                span,
            },
            _ => Stmt::Let { name, value, span },
        })
    }

    /// An `expr` or `cond` pair: a flat operator sequence for the Pratt parser.
    fn expr(&self, pair: Pair<Rule>, depth: usize) -> Res {
        if depth > MAX_NESTING {
            return Err(Box::new(Diagnostic::too_deep(self.trim(span_of(&pair)))));
        }
        let inner = pair.into_inner();
        let prefixes = inner
            .clone()
            .filter(|p| matches!(p.as_rule(), Rule::op_not | Rule::op_neg))
            .count();
        if depth + prefixes > MAX_NESTING {
            let first = inner
                .clone()
                .find(|p| matches!(p.as_rule(), Rule::op_not | Rule::op_neg))
                .unwrap();
            return Err(Box::new(Diagnostic::too_deep(span_of(&first))));
        }
        pratt()
            .map_primary(|p| self.term(p, depth))
            .map_prefix(|op, rhs| {
                let rhs = rhs?;
                let uop = if op.as_rule() == Rule::op_not {
                    UnOp::Not
                } else {
                    UnOp::Neg
                };
                let span = Span::new(op.as_span().start(), rhs.expr.span.end);
                node(
                    ExprKind::Unary {
                        op: uop,
                        expr: Box::new(rhs.expr),
                    },
                    span,
                    rhs.height + 1,
                )
            })
            .map_infix(|lhs, op, rhs| self.infix(lhs?, op, rhs?))
            .parse(inner)
    }

    fn infix(&self, lhs: Node, op: Pair<Rule>, rhs: Node) -> Res {
        let span = lhs.expr.span.join(rhs.expr.span);
        let height = lhs.height.max(rhs.height) + 1;
        let op_span = span_of(&op);
        let bin = match op.as_rule() {
            Rule::op_where => {
                let kind = ExprKind::Where {
                    coll: Box::new(lhs.expr),
                    cond: Box::new(rhs.expr),
                };
                return node(kind, span, height).map_err(|d| d.at(op_span));
            }
            Rule::op_or => BinOp::Or,
            Rule::op_and => BinOp::And,
            Rule::op_eq => BinOp::Eq,
            Rule::op_ne => BinOp::Ne,
            Rule::op_lt => BinOp::Lt,
            Rule::op_le => BinOp::Le,
            Rule::op_gt => BinOp::Gt,
            Rule::op_ge => BinOp::Ge,
            Rule::op_in => BinOp::In,
            Rule::op_matches => BinOp::Matches,
            Rule::op_add => BinOp::Add,
            Rule::op_sub => BinOp::Sub,
            Rule::op_mul => BinOp::Mul,
            Rule::op_div => BinOp::Div,
            Rule::op_mod => BinOp::Mod,
            Rule::op_has => {
                self.check_chain(&lhs, op_span);
                let mode = op.into_inner().nth(1).map(|p| p.as_rule());
                let pat = Box::new(rhs.expr);
                let pattern = match mode {
                    Some(Rule::has_any) => HasPattern::AnyOf(pat),
                    Some(Rule::has_prefix) => HasPattern::Prefix(pat),
                    Some(Rule::has_regex) => HasPattern::Regex(pat),
                    _ => HasPattern::Exact(pat),
                };
                let kind = ExprKind::Has {
                    stack: Box::new(lhs.expr),
                    pattern,
                };
                return node(kind, span, height).map_err(|d| d.at(op_span));
            }
            r => unreachable!("not an infix operator: {r:?}"),
        };
        if matches!(
            bin,
            BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::In
                | BinOp::Matches
        ) {
            self.check_chain(&lhs, op_span);
        }
        let kind = ExprKind::Binary {
            op: bin,
            lhs: Box::new(lhs.expr),
            rhs: Box::new(rhs.expr),
        };
        node(kind, span, height).map_err(|d| d.at(op_span))
    }

    /// Comparisons do not associate: `a < b < c` is an error.
    fn check_chain(&self, lhs: &Node, op_span: Span) {
        if lhs.paren || !is_comparison(&lhs.expr) {
            return;
        }
        let op = &self.src[op_span.start..op_span.end];
        let d = Diagnostic::new(
            "E009",
            op_span,
            format!("comparison operators cannot be chained: `{op}` follows another comparison"),
        )
        .label(lhs.expr.span, "this is already a comparison")
        .help("join the comparisons with `and` (`a < b and b < c`), or add parentheses if you mean to compare the result");
        self.soft.borrow_mut().push(d);
    }

    fn term(&self, pair: Pair<Rule>, depth: usize) -> Res {
        let mut it = pair.into_inner();
        let mut acc = self.primary(it.next().unwrap(), depth)?;
        for post in it {
            let start = acc.expr.span.start;
            let height = acc.height + 1;
            let base = Box::new(acc.expr);
            acc = match post.as_rule() {
                Rule::field | Rule::opt_field => {
                    let name = ident(&post.clone().into_inner().next().unwrap());
                    let span = Span::new(start, name.span.end);
                    node(
                        ExprKind::Field {
                            base,
                            name,
                            optional: post.as_rule() == Rule::opt_field,
                        },
                        span,
                        height,
                    )?
                }
                Rule::index => {
                    let end = post.as_span().end();
                    let inner = post
                        .into_inner()
                        .next()
                        .unwrap()
                        .into_inner()
                        .next()
                        .unwrap();
                    let index = self.expr(inner, depth + 1)?;
                    node(
                        ExprKind::Index {
                            base,
                            index: Box::new(index.expr),
                        },
                        Span::new(start, end),
                        height.max(index.height + 1),
                    )?
                }
                r => unreachable!("not a postfix operator: {r:?}"),
            };
        }
        Ok(acc)
    }

    fn primary(&self, pair: Pair<Rule>, depth: usize) -> Res {
        let p = pair.into_inner().next().unwrap();
        let span = span_of(&p);
        let leaf = |kind| node(kind, span, 1);
        match p.as_rule() {
            Rule::paren => {
                let mut n = self.expr(p.into_inner().next().unwrap(), depth + 1)?;
                n.expr.span = span;
                n.paren = true;
                Ok(n)
            }
            Rule::list => {
                let (items, h) = self.exprs(p.into_inner(), depth)?;
                node(ExprKind::List(items), span, h + 1)
            }
            Rule::call => {
                let mut it = p.into_inner();
                let func = ident(&it.next().unwrap());
                let (args, h) = self.exprs(it, depth)?;
                node(ExprKind::Call { func, args }, span, h + 1)
            }
            Rule::quant => self.quant(p, depth),
            Rule::group | Rule::sort | Rule::top => self.keyed(p, depth),
            Rule::float => self.float(&p),
            Rule::int => self.int(&p),
            Rule::string => leaf(ExprKind::Str(lex::unescape(p.as_str()))),
            Rule::kw_true => leaf(ExprKind::Bool(true)),
            Rule::kw_false => leaf(ExprKind::Bool(false)),
            Rule::kw_null => leaf(ExprKind::Null),
            Rule::global => {
                let mut optional = false;
                let mut name = String::new();
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::global_opt => optional = true,
                        _ => name = q.as_str().to_string(),
                    }
                }
                leaf(ExprKind::Global { name, optional })
            }
            Rule::var => leaf(ExprKind::Var(p.as_str().to_string())),
            r => unreachable!("not a primary: {r:?}"),
        }
    }

    /// The `expr` children of a list or call (skipping `,` and the closer).
    fn exprs(
        &self,
        pairs: Pairs<Rule>,
        depth: usize,
    ) -> Result<(Vec<Expr>, usize), Box<Diagnostic>> {
        let mut out = Vec::new();
        let mut height = 0;
        for q in pairs.filter(|q| q.as_rule() == Rule::expr) {
            let n = self.expr(q, depth + 1)?;
            height = height.max(n.height);
            out.push(n.expr);
        }
        Ok((out, height))
    }

    fn quant(&self, p: Pair<Rule>, depth: usize) -> Res {
        let mut it = p.into_inner();
        let kw = it.next().unwrap();
        let q = match kw.as_rule() {
            Rule::q_any => Quantifier::Any,
            Rule::q_all => Quantifier::All,
            _ => Quantifier::None,
        };
        it.next(); // of
        let coll = self.term(it.next().unwrap(), depth + 1)?;
        let cond = match it.nth(1) {
            Some(c) => Some(self.expr(c, depth + 1)?),
            None => None,
        };
        let end = cond
            .as_ref()
            .map_or(coll.expr.span.end, |c| c.expr.span.end);
        let span = Span::new(kw.as_span().start(), end);
        if q == Quantifier::All && cond.is_none() {
            let d = Diagnostic::new("E008", span, "`all of` needs `where COND`")
                .help(format!(
                    "write `all of {} where COND`; to test that a collection is not empty, use `any of {}` or `count(..) > 0`",
                    &self.src[coll.expr.span.start..coll.expr.span.end],
                    &self.src[coll.expr.span.start..coll.expr.span.end],
                ));
            self.soft.borrow_mut().push(d);
        }
        let height = coll.height.max(cond.as_ref().map_or(0, |c| c.height)) + 1;
        node(
            ExprKind::Quant {
                q,
                coll: Box::new(coll.expr),
                cond: cond.map(|c| Box::new(c.expr)),
            },
            span,
            height,
        )
    }

    /// `group`, `sort` and `top`.
    fn keyed(&self, p: Pair<Rule>, depth: usize) -> Res {
        let rule = p.as_rule();
        let start = p.as_span().start();
        let mut exprs = Vec::new();
        let mut name = None;
        let mut desc = false;
        let mut end = start;
        for q in p.into_inner() {
            end = end.max(q.as_span().end());
            match q.as_rule() {
                Rule::expr | Rule::cond => exprs.push(self.expr(q, depth + 1)?),
                Rule::name => name = Some(ident(&q)),
                Rule::kw_desc => desc = true,
                _ => {}
            }
        }
        let span = self.trim(Span::new(start, end));
        let height = exprs.iter().map(|n| n.height).max().unwrap_or(0) + 1;
        let mut e = exprs.into_iter().map(|n| Box::new(n.expr));
        let kind = match rule {
            Rule::group => ExprKind::Group {
                coll: e.next().unwrap(),
                key: e.next().unwrap(),
                name,
                having: e.next(),
            },
            Rule::sort => ExprKind::Sort {
                coll: e.next().unwrap(),
                key: e.next().unwrap(),
                desc,
            },
            _ => ExprKind::Top {
                n: e.next().unwrap(),
                coll: e.next().unwrap(),
                key: e.next().unwrap(),
            },
        };
        node(kind, span, height)
    }

    fn int(&self, p: &Pair<Rule>) -> Res {
        let text: String = p.as_str().chars().filter(|&c| c != '_').collect();
        let span = span_of(p);
        let value = if let Some(hex) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
            // Hex literals may use all 64 bits (kernel addresses): their bit
            // pattern is kept, so 0xffffffffffffffff == -1.
            u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
        } else {
            text.parse::<i64>().ok()
        };
        match value {
            Some(v) => node(ExprKind::Int(v), span, 1),
            None => {
                let d = Diagnostic::new("E007", span, "number too large")
                    .label(span, "does not fit in 64 bits")
                    .help("integers are signed 64-bit (up to 9223372036854775807); hex literals may use all 64 bits (up to 0xffff_ffff_ffff_ffff)");
                self.soft.borrow_mut().push(d);
                node(ExprKind::Int(0), span, 1)
            }
        }
    }

    fn float(&self, p: &Pair<Rule>) -> Res {
        let text: String = p.as_str().chars().filter(|&c| c != '_').collect();
        let span = span_of(p);
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => node(ExprKind::Float(v), span, 1),
            _ => {
                let d = Diagnostic::new("E007", span, "number too large")
                    .label(span, "does not fit in a 64-bit float")
                    .help("floats are 64-bit, up to about 1.8e308");
                self.soft.borrow_mut().push(d);
                node(ExprKind::Float(0.0), span, 1)
            }
        }
    }
}

impl Diagnostic {
    /// Moves a tree-depth error to the operator that exceeded the limit.
    fn at(mut self: Box<Self>, span: Span) -> Box<Diagnostic> {
        if self.code == "E010" {
            self.span = span;
        }
        self
    }
}
