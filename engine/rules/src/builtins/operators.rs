//! The operators, declared like the functions: each overload of each
//! operator with its operand types, its result type, its documentation, what
//! else it may give (null, or which run-time error) and its implementation,
//! side by side. The checker types `a OP b`, `-a`, `not a` and `a[i]` from
//! these declarations, the evaluator dispatches to the first overload whose
//! operand types the values have, and `vmtriage schema`, its JSON and the
//! site list them. [`SORT_KEYS`] declares likewise what `sort`, `top`,
//! `group`, `min`, `max` and `unique` order and group by.
//!
//! An operand of a type known only at run time (`any`, a kernel object,
//! `null`) is accepted by the checker; the evaluator then finds the overload
//! or stops the rule with an error.

use std::cmp::Ordering;
use std::fmt;

use vmtriage_dsl::ast::{BinOp, Expr, ExprKind, Span, UnOp};

use super::{fail, Ctx, Shape, R};
use crate::ty::Ty;
use crate::value::{int_float, Key, Value};
use crate::value::{truthy, EvalError, Num};
use crate::version::{cmp_versions, parse_version};

/// An operator of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Unary(UnOp),
    Binary(BinOp),
    /// `a[i]`.
    Index,
}

impl Op {
    /// As a rule writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Unary(UnOp::Not) => "not",
            Op::Unary(UnOp::Neg) => "-",
            Op::Index => "[]",
            Op::Binary(b) => b.symbol(),
        }
    }
    pub fn arity(self) -> usize {
        match self {
            Op::Unary(_) => 1,
            _ => 2,
        }
    }
}

/// What an operator gives when an operand is null, before any overload is
/// tried (a field a kernel lacks, `@?name`, `a?.b`: null flows through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNull {
    /// Null.
    Null,
    /// False (a comparison with nothing does not hold).
    False,
    /// Its overloads take null themselves.
    Overloads,
}

/// What an overload may give besides a value of its result type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Null (an index past the end of a list).
    Null,
    /// An error: an int result beyond 64 bits, or a float one beyond f64.
    Overflow,
    /// An error: a division or remainder by zero.
    DivisionByZero,
    /// An error: a string that is no version.
    NotAVersion,
    /// An error: a pattern that is no regex.
    BadRegex,
    /// An error: a kernel object that cannot be read (an index past an
    /// array's end, a member it lacks, memory missing from the dump).
    Unreadable,
}

impl Outcome {
    /// In words, for the schema.
    pub fn doc(self) -> &'static str {
        match self {
            Outcome::Null => "null past the end",
            Outcome::Overflow => "error on overflow",
            Outcome::DivisionByZero => "error on division by zero",
            Outcome::NotAVersion => "error if the string is no version",
            Outcome::BadRegex => "error if the pattern is no regex",
            Outcome::Unreadable => "error if the object cannot be read",
        }
    }

    /// Whether an error message is this outcome's (the implementations
    /// below write each kind of error with its own words).
    pub fn is(self, message: &str) -> bool {
        match self {
            Outcome::Null => false,
            Outcome::Overflow => message.contains("overflows"),
            Outcome::DivisionByZero => message.contains("division by zero"),
            Outcome::NotAVersion => message.contains("is not a version"),
            Outcome::BadRegex => message.starts_with("bad regex"),
            Outcome::Unreadable => true,
        }
    }
}

/// The operands an implementation is handed.
pub struct Operands<'e, 'k> {
    pub op: Op,
    pub vals: &'e [Value<'k>],
    /// Where each operand is written.
    pub spans: &'e [Span],
    /// The whole expression.
    pub span: Span,
}

impl<'k> Operands<'_, 'k> {
    /// Operand `i` (from 0); a missing one is an error, never a panic.
    pub fn get(&self, i: usize) -> Result<&Value<'k>, EvalError> {
        self.vals.get(i).ok_or_else(|| EvalError {
            message: format!(
                "internal: `{}` given {} operands",
                self.op.symbol(),
                self.vals.len()
            ),
            span: self.span,
        })
    }
    pub fn span(&self, i: usize) -> Span {
        self.spans.get(i).copied().unwrap_or(self.span)
    }
    /// The operator and its operands as written, for error messages
    /// (`9223372036854775807 + 1`).
    fn shown(&self) -> String {
        let v: Vec<String> = self.vals.iter().map(short).collect();
        match (self.op, v.as_slice()) {
            (Op::Unary(UnOp::Neg), [a]) if a.starts_with('-') => format!("-({a})"),
            (Op::Unary(UnOp::Neg), [a]) => format!("-{a}"),
            (op, [a, b]) => format!("{a} {} {b}", op.symbol()),
            (op, _) => op.symbol().to_string(),
        }
    }
}

/// A value in a few characters, for error messages.
fn short(v: &Value<'_>) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) if s.len() <= 40 => format!("{s:?}"),
        other => other.type_name().to_string(),
    }
}

/// Runs one overload on operands of its types.
pub type OpFn = for<'e, 'm, 'k> fn(&'e mut Ctx<'m, 'k>, &'e Operands<'e, 'k>) -> R<'k>;

/// One way to apply an operator.
pub struct Overload {
    /// One shape per operand.
    pub operands: &'static [Shape],
    pub result: Shape,
    pub doc: &'static str,
    /// What it may give besides a value of `result`.
    pub outcomes: &'static [Outcome],
    pub eval: OpFn,
}

pub struct Operator {
    pub op: Op,
    pub doc: &'static str,
    pub on_null: OnNull,
    /// Tried in order: the first that takes the operands' types applies.
    pub overloads: &'static [Overload],
    /// The help line of a rule that applies it to types it does not take.
    pub help: &'static str,
}

impl Overload {
    /// `int + int -> int`, `-int -> int`, `list<T>[int] -> T`.
    pub fn signature(&self, op: Op) -> String {
        let s: Vec<String> = self.operands.iter().map(shown).collect();
        let r = shown(&self.result);
        match (op, s.as_slice()) {
            (Op::Unary(UnOp::Neg), [a]) => format!("-{a} -> {r}"),
            (Op::Unary(UnOp::Not), [a]) => format!("not {a} -> {r}"),
            (Op::Index, [a, i]) => format!("{a}[{i}] -> {r}"),
            (op, [a, b]) => format!("{a} {} {b} -> {r}", op.symbol()),
            (op, _) => format!("{} -> {r}", op.symbol()),
        }
    }
}

/// A shape as a signature shows it (`T` for the type variable).
fn shown(s: &Shape) -> String {
    match s {
        Shape::Var(_) => "T".into(),
        Shape::List(Shape::Var(_)) => "list<T>".into(),
        s => s.to_string(),
    }
}

const ANY: Shape = Shape::Is(Ty::Any);
const NULL: Shape = Shape::Is(Ty::Null);
const BOOL: Shape = Shape::Is(Ty::Bool);
const INT: Shape = Shape::Is(Ty::Int);
const FLOAT: Shape = Shape::Is(Ty::Float);
const NUM: Shape = Shape::Num;
const STR: Shape = Shape::Is(Ty::Str);
const VERSION: Shape = Shape::Is(Ty::Version);
const OBJECT: Shape = Shape::Is(Ty::Object);
const LOCK: Shape = Shape::Is(Ty::Lock);
const LIST: Shape = Shape::List(&ANY);
const ELEM: Shape = Shape::Var(&ANY);

/// Every operator, in the order `vmtriage schema` prints them.
pub static OPERATORS: &[Operator] = &[
    Operator {
        op: Op::Binary(BinOp::Add),
        doc: "adds two numbers, or joins two strings",
        on_null: OnNull::Null,
        overloads: &[
            INT_ARITH,
            FLOAT_ARITH,
            Overload {
                operands: &[STR, STR],
                result: STR,
                doc: "the two strings joined (at most 1 MiB)",
                outcomes: &[Outcome::Overflow],
                eval: concat,
            },
        ],
        help: "`+` adds two numbers or joins two strings; to show a number in text, write it in the message (`\"pid {t.pid}\"`), or compare it as a number",
    },
    arith(BinOp::Sub, "subtracts"),
    arith(BinOp::Mul, "multiplies"),
    Operator {
        op: Op::Binary(BinOp::Div),
        doc: "divides (ints: truncated toward zero)",
        on_null: OnNull::Null,
        overloads: &[INT_DIV, FLOAT_DIV],
        help: ARITH_HELP,
    },
    Operator {
        op: Op::Binary(BinOp::Mod),
        doc: "the remainder of the division (the sign of the left operand)",
        on_null: OnNull::Null,
        overloads: &[INT_DIV, FLOAT_DIV],
        help: ARITH_HELP,
    },
    Operator {
        op: Op::Unary(UnOp::Neg),
        doc: "negates a number",
        on_null: OnNull::Null,
        overloads: &[
            Overload {
                operands: &[INT],
                result: INT,
                doc: "exact (-9223372036854775808 has no negation in 64 bits)",
                outcomes: &[Outcome::Overflow],
                eval: |ev, o| match num(ev, o, 0)? {
                    Num::I(i) => checked(o, i.checked_neg()),
                    n => Ok(Value::Float(-n.f())),
                },
            },
            Overload {
                operands: &[NUM],
                result: FLOAT,
                doc: "a float negated",
                outcomes: &[],
                eval: |ev, o| Ok(Value::Float(-num(ev, o, 0)?.f())),
            },
        ],
        help: "`-` negates a number",
    },
    Operator {
        op: Op::Binary(BinOp::Eq),
        doc: "equal: the same value, or the same model object",
        on_null: OnNull::Overloads,
        overloads: EQUALITY,
        help: EQ_HELP,
    },
    Operator {
        op: Op::Binary(BinOp::Ne),
        doc: "not equal: the negation of `==`, for the same operands",
        on_null: OnNull::Overloads,
        overloads: EQUALITY,
        help: EQ_HELP,
    },
    order(BinOp::Lt, "less than"),
    order(BinOp::Le, "less than or equal"),
    order(BinOp::Gt, "greater than"),
    order(BinOp::Ge, "greater than or equal"),
    Operator {
        op: Op::Binary(BinOp::In),
        doc: "membership: some element of the list `==` the value",
        on_null: OnNull::Overloads,
        overloads: &[
            Overload {
                operands: &[ANY, NULL],
                result: BOOL,
                doc: "nothing is in null",
                outcomes: &[],
                eval: |_, _| Ok(Value::Bool(false)),
            },
            Overload {
                operands: &[ANY, LIST],
                result: BOOL,
                doc: "whether some element `==` the value",
                outcomes: &[Outcome::NotAVersion],
                eval: member,
            },
        ],
        help: "`x in LIST` compares x with each element by `==`: give a list of values of x's type",
    },
    Operator {
        op: Op::Binary(BinOp::Matches),
        doc: "regex match (Rust `regex` syntax; anywhere in the string unless anchored)",
        on_null: OnNull::False,
        overloads: &[Overload {
            operands: &[STR, Shape::Regex],
            result: BOOL,
            doc: "whether the regex matches the string",
            outcomes: &[Outcome::BadRegex],
            eval: |ev, o| match (o.get(0)?, o.get(1)?) {
                (Value::Str(s), Value::Str(p)) => {
                    let r = ev.regex(p, o.span(1))?;
                    Ok(Value::Bool(r.is_match(s)))
                }
                _ => internal(o),
            },
        }],
        help: "`matches` tests a string against a regex: `comm matches \"^kworker/\"`",
    },
    Operator {
        op: Op::Unary(UnOp::Not),
        doc: "logical not",
        on_null: OnNull::Overloads,
        overloads: &[Overload {
            operands: &[ANY],
            result: BOOL,
            doc: "true for false, null, 0, \"\" and [], else false",
            outcomes: &[],
            eval: |_, o| Ok(Value::Bool(!truthy(o.get(0)?))),
        }],
        help: "",
    },
    Operator {
        op: Op::Binary(BinOp::And),
        doc: "logical and (the right side is not evaluated when the left is false)",
        on_null: OnNull::Overloads,
        overloads: &[Overload {
            operands: &[ANY, ANY],
            result: BOOL,
            doc: "whether both hold (false, null, 0, \"\" and [] do not)",
            outcomes: &[],
            eval: |_, o| Ok(Value::Bool(truthy(o.get(0)?) && truthy(o.get(1)?))),
        }],
        help: "",
    },
    Operator {
        op: Op::Binary(BinOp::Or),
        doc: "logical or (the right side is not evaluated when the left holds)",
        on_null: OnNull::Overloads,
        overloads: &[Overload {
            operands: &[ANY, ANY],
            result: BOOL,
            doc: "whether either holds (false, null, 0, \"\" and [] do not)",
            outcomes: &[],
            eval: |_, o| Ok(Value::Bool(truthy(o.get(0)?) || truthy(o.get(1)?))),
        }],
        help: "",
    },
    Operator {
        op: Op::Index,
        doc: "an element of a list, or of a kernel array or object",
        on_null: OnNull::Null,
        overloads: &[
            Overload {
                operands: &[OBJECT, INT],
                result: OBJECT,
                doc: "an element of a kernel array (or what a pointer points at, offset)",
                outcomes: &[Outcome::Unreadable],
                eval: |_, o| match (o.get(0)?, o.get(1)?) {
                    (Value::Obj(x), Value::Int(n)) => match u64::try_from(*n) {
                        Ok(n) => x.index(n).map(Value::Obj).map_err(read_err(o)),
                        Err(_) => fail(o.span(1), format!("index {n} of a kernel array: negative")),
                    },
                    _ => internal(o),
                },
            },
            Overload {
                operands: &[OBJECT, STR],
                result: OBJECT,
                doc: "a member of a kernel object by name (`@s[\"a.b\"]`)",
                outcomes: &[Outcome::Unreadable],
                eval: |_, o| match (o.get(0)?, o.get(1)?) {
                    (Value::Obj(x), Value::Str(s)) => {
                        x.member(s).map(Value::Obj).map_err(read_err(o))
                    }
                    _ => internal(o),
                },
            },
            Overload {
                operands: &[Shape::List(&ELEM), INT],
                result: ELEM,
                doc: "the element at i, counted from 0 (from the end if negative)",
                outcomes: &[Outcome::Null],
                eval: |ev, o| {
                    let l = ev.as_list(o.get(0)?.clone(), o.span(0))?;
                    let Value::Int(n) = o.get(1)? else {
                        return internal(o);
                    };
                    let i = if *n < 0 {
                        (l.len() as i64).checked_add(*n)
                    } else {
                        Some(*n)
                    };
                    Ok(i
                        .and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| l.get(i).cloned())
                        .unwrap_or(Value::Null))
                },
            },
        ],
        help: "index a list with an int (`xs[0]`, `xs[-1]`), or a kernel array or object (`@arr[2]`, `@s[\"member\"]`)",
    },
];

const ARITH_HELP: &str =
    "arithmetic takes two numbers (ints, floats, or kernel objects that are numbers)";
const EQ_HELP: &str = "compare two values of the same type (a version or a lock may be compared with a string); see `vmtriage schema` for what `==` takes";

/// `+`, `-`, `*` on ints, exactly.
const INT_ARITH: Overload = Overload {
    operands: &[INT, INT],
    result: INT,
    doc: "exact 64-bit arithmetic",
    outcomes: &[Outcome::Overflow],
    eval: int_arith,
};
/// `+`, `-`, `*` with a float.
const FLOAT_ARITH: Overload = Overload {
    operands: &[NUM, NUM],
    result: FLOAT,
    doc: "with a float: in floats",
    outcomes: &[Outcome::Overflow],
    eval: float_arith,
};
const INT_DIV: Overload = Overload {
    operands: &[INT, INT],
    result: INT,
    doc: "exact 64-bit arithmetic",
    outcomes: &[Outcome::DivisionByZero, Outcome::Overflow],
    eval: int_arith,
};
const FLOAT_DIV: Overload = Overload {
    operands: &[NUM, NUM],
    result: FLOAT,
    doc: "with a float: in floats",
    outcomes: &[Outcome::DivisionByZero, Outcome::Overflow],
    eval: float_arith,
};

static ARITH: &[Overload] = &[INT_ARITH, FLOAT_ARITH];

const fn arith(op: BinOp, doc: &'static str) -> Operator {
    Operator {
        op: Op::Binary(op),
        doc,
        on_null: OnNull::Null,
        overloads: ARITH,
        help: ARITH_HELP,
    }
}

const fn order(op: BinOp, doc: &'static str) -> Operator {
    Operator {
        op: Op::Binary(op),
        doc,
        on_null: OnNull::False,
        overloads: ORDER,
        help: "`<`, `<=`, `>`, `>=` order two numbers, two strings or two versions (a version with a string such as \"6.1\")",
    }
}

/// What `<`, `<=`, `>`, `>=` take.
static ORDER: &[Overload] = &[
    Overload {
        operands: &[NUM, NUM],
        result: BOOL,
        doc: "numbers in numeric order",
        outcomes: &[],
        eval: |ev, o| {
            let (a, b) = (num(ev, o, 0)?, num(ev, o, 1)?);
            ordered(o, cmp_nums(a, b))
        },
    },
    Overload {
        operands: &[STR, STR],
        result: BOOL,
        doc: "strings in byte order",
        outcomes: &[],
        eval: |_, o| match (o.get(0)?, o.get(1)?) {
            (Value::Str(a), Value::Str(b)) => ordered(o, Some(a.cmp(b))),
            _ => internal(o),
        },
    },
    Overload {
        operands: &[VERSION, VERSION],
        result: BOOL,
        doc: "kernel versions in release order (5.10 < 6.1 < 6.12)",
        outcomes: &[],
        eval: |_, o| ordered(o, Some(cmp_versions(&version(o, 0)?, &version(o, 1)?))),
    },
    Overload {
        operands: &[VERSION, STR],
        result: BOOL,
        doc: "the string read as a version (`kernel.version >= \"6.1\"`)",
        outcomes: &[Outcome::NotAVersion],
        eval: |_, o| ordered(o, Some(cmp_versions(&version(o, 0)?, &version(o, 1)?))),
    },
    Overload {
        operands: &[STR, VERSION],
        result: BOOL,
        doc: "the string read as a version",
        outcomes: &[Outcome::NotAVersion],
        eval: |_, o| ordered(o, Some(cmp_versions(&version(o, 0)?, &version(o, 1)?))),
    },
];

/// What `==` and `!=` take (`!=` negates).
static EQUALITY: &[Overload] = &[
    Overload {
        operands: &[NULL, ANY],
        result: BOOL,
        doc: "null equals only null",
        outcomes: &[],
        eval: |_, o| equal(o, matches!(o.get(1)?, Value::Null)),
    },
    Overload {
        operands: &[ANY, NULL],
        result: BOOL,
        doc: "null equals only null",
        outcomes: &[],
        eval: |_, o| equal(o, matches!(o.get(0)?, Value::Null)),
    },
    Overload {
        operands: &[OBJECT, OBJECT],
        result: BOOL,
        doc: "kernel objects: the same value if both are numbers, else the same address",
        outcomes: &[],
        eval: |ev, o| match (o.get(0)?, o.get(1)?) {
            (Value::Obj(x), Value::Obj(y)) => equal(
                o,
                match (ev.scalar(x), ev.scalar(y)) {
                    (Some(p), Some(q)) => p == q,
                    _ => x.addr == y.addr,
                },
            ),
            _ => internal(o),
        },
    },
    Overload {
        operands: &[NUM, NUM],
        result: BOOL,
        doc: "numbers: the same number (an int and a float alike)",
        outcomes: &[],
        eval: |ev, o| {
            let (a, b) = (num(ev, o, 0)?, num(ev, o, 1)?);
            equal(o, cmp_nums(a, b) == Some(Ordering::Equal))
        },
    },
    Overload {
        operands: &[STR, STR],
        result: BOOL,
        doc: "strings: the same text",
        outcomes: &[],
        eval: same_value,
    },
    Overload {
        operands: &[BOOL, BOOL],
        result: BOOL,
        doc: "bools",
        outcomes: &[],
        eval: same_value,
    },
    Overload {
        operands: &[VERSION, VERSION],
        result: BOOL,
        doc: "versions: the same release (6.1 == 6.1.0)",
        outcomes: &[],
        eval: same_version,
    },
    Overload {
        operands: &[VERSION, STR],
        result: BOOL,
        doc: "the string read as a version",
        outcomes: &[Outcome::NotAVersion],
        eval: same_version,
    },
    Overload {
        operands: &[STR, VERSION],
        result: BOOL,
        doc: "the string read as a version",
        outcomes: &[Outcome::NotAVersion],
        eval: same_version,
    },
    Overload {
        operands: &[LOCK, LOCK],
        result: BOOL,
        doc: "locks: the same lock (address)",
        outcomes: &[],
        eval: same_value,
    },
    Overload {
        operands: &[LOCK, OBJECT],
        result: BOOL,
        doc: "a lock and a kernel object at its address (`blocked_on == @tasklist_lock`)",
        outcomes: &[],
        eval: lock_at,
    },
    Overload {
        operands: &[OBJECT, LOCK],
        result: BOOL,
        doc: "a kernel object and the lock at its address",
        outcomes: &[],
        eval: lock_at,
    },
    Overload {
        operands: &[LOCK, STR],
        result: BOOL,
        doc: "a lock and its name (a global's, e.g. \"tasklist_lock\")",
        outcomes: &[],
        eval: lock_named,
    },
    Overload {
        operands: &[STR, LOCK],
        result: BOOL,
        doc: "a name and a lock",
        outcomes: &[],
        eval: lock_named,
    },
    Overload {
        operands: &[
            Shape::Var(&Shape::OneOf(&[
                Shape::Is(Ty::Task),
                Shape::Is(Ty::Frame),
                Shape::Is(Ty::Cpu),
                Shape::Is(Ty::Record),
                Shape::Is(Ty::Zone),
                Shape::Is(Ty::Module),
                Shape::Is(Ty::Pool),
                Shape::Is(Ty::Report),
                Shape::Is(Ty::Memcg),
                Shape::Is(Ty::File),
                Shape::Is(Ty::Slab),
                Shape::Is(Ty::Kernel),
                Shape::Is(Ty::Memory),
                Shape::Is(Ty::Rcu),
            ])),
            Shape::Var(&ANY),
        ],
        result: BOOL,
        doc: "two model objects of one type (task, frame, cpu, record, zone, module, pool, report, memcg, file, slab, kernel, memory, rcu): the same one (`it in cycle`)",
        outcomes: &[],
        eval: |_, o| {
            let (a, b) = (o.get(0)?, o.get(1)?);
            equal(o, identity(a).is_some() && identity(a) == identity(b))
        },
    },
    Overload {
        operands: &[Shape::Is(Ty::LockState), Shape::Is(Ty::LockState)],
        result: BOOL,
        doc: "lock states: of the same lock",
        outcomes: &[],
        eval: same_value,
    },
];

/// The identity of a model value that is one of the model's objects (its
/// kind and place); None for others.
fn identity(v: &Value<'_>) -> Option<(&'static str, usize, usize)> {
    let n = v.type_name();
    Some(match v {
        Value::Task(i)
        | Value::Cpu(i)
        | Value::Record(i)
        | Value::Zone(i)
        | Value::Module(i)
        | Value::Pool(i)
        | Value::Report(i)
        | Value::Memcg(i)
        | Value::Slab(i) => (n, *i, 0),
        Value::Frame(t, f) | Value::File(t, f) => (n, *t, *f),
        Value::Kernel | Value::Memory | Value::Rcu => (n, 0, 0),
        _ => return None,
    })
}

/// The result of `==` (or of `!=`, negated).
fn equal<'k>(o: &Operands<'_, 'k>, same: bool) -> R<'k> {
    Ok(Value::Bool(same != (o.op == Op::Binary(BinOp::Ne))))
}

/// `==` on two values of one plain type: strings, bools, locks and lock
/// states (the same lock: the same address).
fn same_value<'k>(_: &mut Ctx<'_, 'k>, o: &Operands<'_, 'k>) -> R<'k> {
    match (o.get(0)?, o.get(1)?) {
        (Value::Str(a), Value::Str(b)) => equal(o, a == b),
        (Value::Bool(a), Value::Bool(b)) => equal(o, a == b),
        (Value::Lock(a), Value::Lock(b)) => equal(o, a.address == b.address),
        (Value::LockState(a), Value::LockState(b)) => equal(o, a.addr == b.addr),
        _ => internal(o),
    }
}

fn same_version<'k>(_: &mut Ctx<'_, 'k>, o: &Operands<'_, 'k>) -> R<'k> {
    equal(o, cmp_versions(&version(o, 0)?, &version(o, 1)?).is_eq())
}

fn lock_at<'k>(_: &mut Ctx<'_, 'k>, o: &Operands<'_, 'k>) -> R<'k> {
    match (o.get(0)?, o.get(1)?) {
        (Value::Lock(l), Value::Obj(x)) | (Value::Obj(x), Value::Lock(l)) => {
            equal(o, l.address == x.addr)
        }
        _ => internal(o),
    }
}

fn lock_named<'k>(_: &mut Ctx<'_, 'k>, o: &Operands<'_, 'k>) -> R<'k> {
    match (o.get(0)?, o.get(1)?) {
        (Value::Lock(l), Value::Str(s)) | (Value::Str(s), Value::Lock(l)) => {
            equal(o, l.name.as_deref() == Some(&**s))
        }
        _ => internal(o),
    }
}

/// The result of `<`, `<=`, `>`, `>=` from an order (none: NaN, false).
fn ordered<'k>(o: &Operands<'_, 'k>, ord: Option<Ordering>) -> R<'k> {
    let Some(ord) = ord else {
        return Ok(Value::Bool(false));
    };
    Ok(Value::Bool(match o.op {
        Op::Binary(BinOp::Lt) => ord.is_lt(),
        Op::Binary(BinOp::Le) => ord.is_le(),
        Op::Binary(BinOp::Gt) => ord.is_gt(),
        Op::Binary(BinOp::Ge) => ord.is_ge(),
        _ => return internal(o),
    }))
}

/// Operand `i` as a number (a kernel object that is one reads as its value).
fn num<'k>(ev: &Ctx<'_, 'k>, o: &Operands<'_, 'k>, i: usize) -> Result<Num, EvalError> {
    match o.get(i)? {
        v @ (Value::Int(_) | Value::Float(_) | Value::Obj(_)) => ev.num(v, o.span(i)),
        _ => internal(o),
    }
}

/// Operand `i` as a version (a string is parsed).
fn version(o: &Operands<'_, '_>, i: usize) -> Result<std::rc::Rc<Vec<u64>>, EvalError> {
    match o.get(i)? {
        Value::Version(v) => Ok(v.clone()),
        Value::Str(s) => match parse_version(s) {
            Some(v) => Ok(std::rc::Rc::new(v)),
            None => fail(o.span(i), format!("{} is not a version", short(o.get(i)?))),
        },
        _ => internal(o),
    }
}

fn cmp_nums(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
        (Num::I(x), Num::F(y)) => Some(int_float(x, y)),
        (Num::F(x), Num::I(y)) => Some(int_float(y, x).reverse()),
        (x, y) => x.f().partial_cmp(&y.f()),
    }
}

/// An int result, or the overflow error when there is none.
fn checked<'k>(o: &Operands<'_, 'k>, r: Option<i64>) -> R<'k> {
    match r {
        Some(i) => Ok(Value::Int(i)),
        None => fail(o.span, format!("{} overflows a 64-bit integer", o.shown())),
    }
}

fn int_arith<'k>(ev: &mut Ctx<'_, 'k>, o: &Operands<'_, 'k>) -> R<'k> {
    let (Num::I(a), Num::I(b)) = (num(ev, o, 0)?, num(ev, o, 1)?) else {
        return internal(o);
    };
    if b == 0 && matches!(o.op, Op::Binary(BinOp::Div | BinOp::Mod)) {
        return fail(o.span, format!("{}: division by zero", o.shown()));
    }
    checked(
        o,
        match o.op {
            Op::Binary(BinOp::Add) => a.checked_add(b),
            Op::Binary(BinOp::Sub) => a.checked_sub(b),
            Op::Binary(BinOp::Mul) => a.checked_mul(b),
            Op::Binary(BinOp::Div) => a.checked_div(b),
            // i64::MIN % -1 is 0: no overflow in the result.
            Op::Binary(BinOp::Mod) => Some(a.wrapping_rem(b)),
            _ => return internal(o),
        },
    )
}

fn float_arith<'k>(ev: &mut Ctx<'_, 'k>, o: &Operands<'_, 'k>) -> R<'k> {
    let (a, b) = (num(ev, o, 0)?.f(), num(ev, o, 1)?.f());
    if b == 0.0 && matches!(o.op, Op::Binary(BinOp::Div | BinOp::Mod)) {
        return fail(o.span, format!("{}: division by zero", o.shown()));
    }
    let r = match o.op {
        Op::Binary(BinOp::Add) => a + b,
        Op::Binary(BinOp::Sub) => a - b,
        Op::Binary(BinOp::Mul) => a * b,
        Op::Binary(BinOp::Div) => a / b,
        Op::Binary(BinOp::Mod) => a % b,
        _ => return internal(o),
    };
    if !r.is_finite() {
        return fail(o.span, format!("{} overflows a float", o.shown()));
    }
    Ok(Value::Float(r))
}

fn concat<'k>(_: &mut Ctx<'_, 'k>, o: &Operands<'_, 'k>) -> R<'k> {
    let (Value::Str(a), Value::Str(b)) = (o.get(0)?, o.get(1)?) else {
        return internal(o);
    };
    let max = crate::limits::MAX_BUILT_SIZE;
    if (a.len() + b.len()) as u64 > max {
        return fail(
            o.span,
            format!(
                "the string would be over {max} bytes: it overflows the bound on built strings"
            ),
        );
    }
    Ok(Value::str(&format!("{a}{b}")))
}

fn member<'k>(ev: &mut Ctx<'_, 'k>, o: &Operands<'_, 'k>) -> R<'k> {
    let x = o.get(0)?;
    let items = ev.as_list(o.get(1)?.clone(), o.span(1))?;
    ev.spend(items.len() as u64, o.span)?;
    for it in items.iter() {
        let eq = apply(
            ev,
            Op::Binary(BinOp::Eq),
            &[x.clone(), it.clone()],
            &[o.span(0), o.span(1)],
            o.span,
        )?;
        if truthy(&eq) {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn read_err<'k>(o: &Operands<'_, 'k>) -> impl Fn(kmodel::Error) -> EvalError {
    let span = o.span;
    move |e| EvalError {
        message: e.to_string(),
        span,
    }
}

/// An implementation handed values its declaration does not take (a bug of
/// the dispatch, reported rather than panicking).
fn internal<'k, T>(o: &Operands<'_, 'k>) -> Result<T, EvalError> {
    let types: Vec<&str> = o.vals.iter().map(|v| v.type_name()).collect();
    fail(
        o.span,
        format!(
            "internal: `{}` dispatched on {}",
            o.op.symbol(),
            types.join(", ")
        ),
    )
}

/// The declaration of an operator.
pub fn operator(op: Op) -> &'static Operator {
    OPERATORS
        .iter()
        .find(|o| o.op == op)
        .expect("every operator of the grammar is declared")
}

/// The overloads of `op` that take operands of these static types, with
/// the result type each gives.
fn typed(op: Op, tys: &[Ty]) -> impl Iterator<Item = (&'static Overload, Ty)> + '_ {
    operator(op).overloads.iter().filter_map(move |ov| {
        let mut bound = None;
        (ov.operands.len() == tys.len()
            && ov
                .operands
                .iter()
                .zip(tys)
                .all(|(s, t)| s.accepts(t, &mut bound)))
        .then(|| (ov, ov.result.to_ty(bound.as_ref())))
    })
}

/// The checker's type of `op` applied to operands of these types: None when
/// no overload takes them. When the types are known only at run time and
/// overloads of different results could apply, `any`.
pub fn result_type(op: Op, tys: &[Ty]) -> Option<Ty> {
    // `x in xs` compares x with the elements by `==`.
    if let (Op::Binary(BinOp::In), [x, Ty::List(e) | Ty::Group(e)]) = (op, tys) {
        result_type(Op::Binary(BinOp::Eq), &[x.clone(), (**e).clone()])?;
    }
    let mut results = typed(op, tys).map(|(_, t)| t);
    let first = results.next()?;
    Some(if results.all(|t| t == first) {
        first
    } else {
        Ty::Any
    })
}

/// Whether a value at run time has a shape (what the checker's
/// [`Shape::accepts`] says of its type, decided on the value: a kernel
/// object is a number when it reads as one).
pub fn admits<'k>(ev: &Ctx<'_, 'k>, s: &Shape, v: &Value<'k>) -> bool {
    match s {
        Shape::Is(Ty::Any) => true,
        Shape::Is(Ty::Object) => matches!(v, Value::Obj(_)),
        Shape::Is(Ty::Int) => match v {
            Value::Int(_) => true,
            Value::Obj(_) => matches!(ev.num(v, Span::default()), Ok(Num::I(_))),
            _ => false,
        },
        Shape::Num => matches!(v, Value::Float(_)) || admits(ev, &INT, v),
        Shape::Is(Ty::Float) => matches!(v, Value::Float(_)),
        Shape::Regex => matches!(v, Value::Str(_)),
        Shape::List(_) => matches!(v, Value::List(_) | Value::Group(_)),
        Shape::OneOf(ss) => ss.iter().any(|s| admits(ev, s, v)),
        Shape::Var(s) => admits(ev, s, v),
        Shape::Is(t) => v.type_name() == t.name(),
    }
}

/// Whether values have these shapes, all the `T`s being of one type.
fn admits_all<'k>(ev: &Ctx<'_, 'k>, shapes: &[Shape], vals: &[Value<'k>]) -> bool {
    let mut bound = None;
    shapes.len() == vals.len()
        && shapes.iter().zip(vals).all(|(s, v)| {
            admits(ev, s, v)
                && (!matches!(s, Shape::Var(_))
                    || *bound.get_or_insert(v.type_name()) == v.type_name())
        })
}

/// The overload of `op` that applies to these values, if any.
pub fn dispatch<'k>(ev: &Ctx<'_, 'k>, op: Op, vals: &[Value<'k>]) -> Option<&'static Overload> {
    operator(op)
        .overloads
        .iter()
        .find(|ov| admits_all(ev, ov.operands, vals))
}

/// Applies `op` to evaluated operands (`spans`: where each is written;
/// `span`: the whole expression).
pub fn apply<'k>(
    ev: &mut Ctx<'_, 'k>,
    op: Op,
    vals: &[Value<'k>],
    spans: &[Span],
    span: Span,
) -> R<'k> {
    let o = operator(op);
    if vals.iter().any(|v| matches!(v, Value::Null)) {
        match o.on_null {
            OnNull::Null => return Ok(Value::Null),
            OnNull::False => return Ok(Value::Bool(false)),
            OnNull::Overloads => {}
        }
    }
    let Some(ov) = dispatch(ev, op, vals) else {
        let what: Vec<String> = vals.iter().map(noun).collect();
        return fail(
            span,
            format!("`{}` does not apply to {}", op.symbol(), what.join(" and ")),
        );
    };
    (ov.eval)(
        ev,
        &Operands {
            op,
            vals,
            spans,
            span,
        },
    )
}

/// A value's type with its article (a kernel object with its C type).
fn noun(v: &Value<'_>) -> String {
    match v {
        Value::Obj(x) => format!("an object ({})", x.type_name()),
        v => crate::diag::with_article(v.type_name()),
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// The value of a constant expression: numbers written in the rule and the
/// operators on them; None for anything else, or when it fails (the error
/// is its innermost operation's).
fn constant(ev: &mut Ctx<'_, 'static>, e: &Expr) -> Option<Value<'static>> {
    let (op, operands): (Op, Vec<&Expr>) = match &e.kind {
        ExprKind::Int(i) => return Some(Value::Int(*i)),
        ExprKind::Float(f) => return Some(Value::Float(*f)),
        ExprKind::Unary { op, expr } => (Op::Unary(*op), vec![expr]),
        ExprKind::Binary { op, lhs, rhs } => (Op::Binary(*op), vec![lhs, rhs]),
        _ => return None,
    };
    let vals = operands
        .iter()
        .map(|x| constant(ev, x))
        .collect::<Option<Vec<_>>>()?;
    let spans: Vec<Span> = operands.iter().map(|x| x.span).collect();
    apply(ev, op, &vals, &spans, e.span).ok()
}

/// The error an operation always gives whatever the dump (`1 / 0`,
/// `9223372036854775807 + 1`), found before a dump is open: `operands` are
/// all constants, or the divisor is a literal zero.
pub fn constant_error(op: Op, operands: &[&Expr], span: Span) -> Option<String> {
    let mut ev = Ctx::new(None);
    let vals: Vec<Option<Value<'static>>> = operands.iter().map(|e| constant(&mut ev, e)).collect();
    let zero = match vals.get(1) {
        Some(Some(Value::Int(0))) => true,
        Some(Some(Value::Float(z))) => *z == 0.0,
        _ => false,
    };
    if zero && matches!(op, Op::Binary(BinOp::Div | BinOp::Mod)) {
        return Some(format!(
            "`{op}` by 0: division by zero, whatever the dividend"
        ));
    }
    let vals = vals.into_iter().collect::<Option<Vec<_>>>()?;
    // Operands no overload takes are the checker's type error, not this.
    dispatch(&ev, op, &vals)?;
    let spans: Vec<Span> = operands.iter().map(|x| x.span).collect();
    apply(&mut ev, op, &vals, &spans, span)
        .err()
        .map(|e| e.message)
}

/// A type `sort`, `top`, `group`, `min`, `max` and `unique` take as a key.
pub struct SortKey {
    /// In a sentence: "a number".
    pub name: &'static str,
    pub ty: Shape,
    pub doc: &'static str,
    pub key: for<'m, 'k> fn(&Ctx<'m, 'k>, &Value<'k>) -> Option<Key>,
}

/// The types that have an order, tried in order; any other (a list, a
/// group) is no key. Null is always a key: `group` leaves its elements out,
/// `sort` puts them first.
pub static SORT_KEYS: &[SortKey] = &[
    SortKey {
        name: "a kernel object",
        ty: OBJECT,
        doc: "kernel objects: by value if a number, else by address",
        key: |ev, v| match v {
            Value::Obj(x) => Some(match ev.scalar(x) {
                Some(i) => Key::Int(i),
                None => Key::Addr(x.addr),
            }),
            _ => None,
        },
    },
    SortKey {
        name: "a number",
        ty: NUM,
        doc: "numbers in numeric order, ints and floats together",
        key: |_, v| match v {
            Value::Int(i) => Some(Key::Int(*i)),
            Value::Float(f) => Some(Key::Float(*f)),
            _ => None,
        },
    },
    SortKey {
        name: "a string",
        ty: STR,
        doc: "strings in byte order",
        key: |_, v| match v {
            Value::Str(s) => Some(Key::Str(s.to_string())),
            _ => None,
        },
    },
    SortKey {
        name: "a bool",
        ty: BOOL,
        doc: "false before true",
        key: |_, v| match v {
            Value::Bool(b) => Some(Key::Bool(*b)),
            _ => None,
        },
    },
    SortKey {
        name: "a version",
        ty: VERSION,
        doc: "versions in release order",
        key: |_, v| match v {
            Value::Version(x) => Some(Key::Version(x.to_vec())),
            _ => None,
        },
    },
    SortKey {
        name: "a lock",
        ty: LOCK,
        doc: "locks by address",
        key: |_, v| match v {
            Value::Lock(l) => Some(Key::Addr(l.address)),
            _ => None,
        },
    },
    SortKey {
        name: "a model object (a task, frame, cpu, zone…)",
        ty: Shape::OneOf(&[
            Shape::Is(Ty::Task),
            Shape::Is(Ty::Frame),
            Shape::Is(Ty::Cpu),
            Shape::Is(Ty::Record),
            Shape::Is(Ty::Zone),
            Shape::Is(Ty::Module),
            Shape::Is(Ty::Pool),
            Shape::Is(Ty::Report),
            Shape::Is(Ty::Memcg),
            Shape::Is(Ty::File),
            Shape::Is(Ty::Slab),
        ]),
        doc: "model objects in the order of their list (tasks as `tasks`, frames innermost first)",
        key: |_, v| identity(v).map(|(kind, a, b)| Key::Model(kind, a, b)),
    },
];

/// Whether the checker takes a key of this type.
pub fn is_key_type(t: &Ty) -> bool {
    SORT_KEYS.iter().any(|k| k.ty.accepts(t, &mut None))
}

/// The key of a value, or None when its type has no order.
pub fn key_of<'k>(ev: &Ctx<'_, 'k>, v: &Value<'k>) -> Option<Key> {
    if matches!(v, Value::Null) {
        return Some(Key::Null);
    }
    SORT_KEYS
        .iter()
        .find(|k| admits(ev, &k.ty, v))
        .and_then(|k| (k.key)(ev, v))
}

#[cfg(test)]
mod tests;
