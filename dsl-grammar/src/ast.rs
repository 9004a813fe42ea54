//! The syntax tree of a rule's `match` expression (and of `{…}` holes in
//! messages). Spans are byte offsets into the expression's own source text;
//! the rule loader maps them to lines and columns of the YAML file.

/// A half-open byte range `start..end` in the expression source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `stmt* condition`: bindings, then the boolean that decides the match.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub stmts: Vec<Stmt>,
    pub cond: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `for NAME in EXPR`: the rest of the program runs once per element; each
    /// element for which the condition holds is one diagnosis instance.
    For { name: Ident, iter: Expr, span: Span },
    /// `let NAME = EXPR`: a named value, reported as evidence.
    Let {
        name: Ident,
        value: Expr,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// `x in [a, b]`, `x in coll`
    In,
    /// `x matches "regex"`
    Matches,
}

impl BinOp {
    /// As a rule writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::In => "in",
            BinOp::Matches => "matches",
        }
    }

    /// The operators that compare (and so do not chain: `a < b < c`).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::In
                | BinOp::Matches
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
    None,
}

/// What `stack has …` looks for among a stack's function names.
#[derive(Debug, Clone, PartialEq)]
pub enum HasPattern {
    /// `has "do_wait"` or `has NAME_EXPR`: exact name (the expression may be a
    /// string or, for `has any`, a list).
    Exact(Box<Expr>),
    /// `has any EXPR`: any name of a list (a list literal or a list param).
    AnyOf(Box<Expr>),
    /// `has prefix "rwsem_down_"`
    Prefix(Box<Expr>),
    /// `has regex "^queued_.*_slowpath$"`
    Regex(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Expr>),
    /// A name: a binding, a param, a root (`tasks`, `cpus`, `kernel`, `dmesg`,
    /// `memory`, `modules`), or — inside `where`/quantifiers/`by` — a field of
    /// the current element (`it` names the element itself).
    Var(String),
    /// `@tasklist_lock` (a kernel global through DWARF) or `@?tasklist_waiters`
    /// (optional: null on kernels without it).
    Global {
        name: String,
        optional: bool,
    },
    /// `a.b`, or `a?.b` (optional: null when `a` is null or has no member `b`).
    Field {
        base: Box<Expr>,
        name: Ident,
        optional: bool,
    },
    /// `a[i]`
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `f(args)`, e.g. `count(xs)`, `sym("x")`, `signal_pending(SIGKILL)`;
    /// helpers from `.rhai` files are called the same way.
    Call {
        func: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `COLL where COND`: the elements for which COND holds.
    Where {
        coll: Box<Expr>,
        cond: Box<Expr>,
    },
    /// `any of COLL where COND`, `all of …`, `none of …` (`where COND` optional
    /// for `any`/`none`: then it tests for (non-)emptiness).
    Quant {
        q: Quantifier,
        coll: Box<Expr>,
        cond: Option<Box<Expr>>,
    },
    /// `STACK has PATTERN` (STACK is a task, or a task's `stack`).
    Has {
        stack: Box<Expr>,
        pattern: HasPattern,
    },
    /// `group COLL by KEY [as NAME] [having COND]`: a collection of groups, each
    /// with fields `key` (also reachable as NAME), `items` and `count`.
    Group {
        coll: Box<Expr>,
        key: Box<Expr>,
        name: Option<Ident>,
        having: Option<Box<Expr>>,
    },
    /// `sort COLL by KEY [desc]`
    Sort {
        coll: Box<Expr>,
        key: Box<Expr>,
        desc: bool,
    },
    /// `top N of COLL by KEY` (largest KEY first)
    Top {
        n: Box<Expr>,
        coll: Box<Expr>,
        key: Box<Expr>,
    },
}
