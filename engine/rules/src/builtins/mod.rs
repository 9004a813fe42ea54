//! The rule language's built-ins, each declared once: roots, the fields of
//! the model's types, functions and constants, each with its type, its
//! documentation and its implementation side by side, one module per subject
//! (as YARA-X declares a module's functions and types in one place).
//!
//! The checker types calls and fields from these declarations, the evaluator
//! dispatches to their implementations, and `vmtriage schema`, its JSON form
//! and the knowledge-base site are rendered from them: no other place lists
//! the names.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use vmtriage_dsl::ast::Span;

use crate::ty::{Need, Ty};
use crate::value::{EvalError, Value};

mod ctx;
pub use ctx::Ctx;

pub mod collections;
pub mod files;
pub mod kernel;
pub mod locks;
pub mod log;
pub mod memory;
pub mod numbers;
pub mod operators;
pub mod sched;
pub mod symbols;
pub mod tasks;
pub mod text;

/// What an implementation returns.
pub type R<'k> = Result<Value<'k>, EvalError>;

/// A type as a declaration writes it: a type of the checker, or a pattern
/// of types (a constant, unlike a [`Ty`] built by the checker).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Exactly this type (`any`: anything; `object`: a kernel object through
    /// DWARF, known once a dump is open).
    Is(Ty),
    /// An int or a float.
    Num,
    /// A string that is a regular expression (a literal one is checked).
    Regex,
    List(&'static Shape),
    /// Any one of these.
    OneOf(&'static [Shape]),
    /// The type variable `T`, with the shape it must have: bound by the
    /// first argument it matches (or a group's element type), it is what a
    /// result of shape `T` is.
    Var(&'static Shape),
}

impl Shape {
    /// The checker's type of a value of this shape, `T` being `bound`.
    pub fn to_ty(&self, bound: Option<&Ty>) -> Ty {
        match self {
            Shape::Is(t) => t.clone(),
            Shape::OneOf(_) => Ty::Any,
            Shape::Num => Ty::Float,
            Shape::Regex => Ty::Str,
            Shape::List(s) => Ty::list(s.to_ty(bound)),
            Shape::Var(_) => bound.cloned().unwrap_or(Ty::Any),
        }
    }

    /// Whether a value of type `t` may be passed where this shape is
    /// declared; binds `T` on the way. Types only known at run time
    /// (`any`, kernel objects, `null`) are accepted: the implementation
    /// checks them.
    pub fn accepts(&self, t: &Ty, bound: &mut Option<Ty>) -> bool {
        if matches!(t, Ty::Any | Ty::Object | Ty::Null) {
            return true;
        }
        match self {
            Shape::Is(Ty::Any) => true,
            Shape::Num | Shape::Is(Ty::Float) => matches!(t, Ty::Int | Ty::Float),
            Shape::Regex => *t == Ty::Str,
            Shape::Is(x) => x == t,
            Shape::List(s) => match t {
                Ty::List(x) | Ty::Group(x) => s.accepts(x, bound),
                _ => false,
            },
            Shape::OneOf(ss) => ss.iter().any(|s| s.accepts(t, bound)),
            // Every `T` of a signature is one type: the first binds it.
            Shape::Var(s) => {
                if !s.accepts(t, &mut None) {
                    return false;
                }
                bound.get_or_insert_with(|| t.clone()) == t
            }
        }
    }
}

impl Shape {
    /// The shape in a sentence: "a number", "a lock or an object".
    pub fn noun(&self) -> String {
        let a = |w: String| crate::diag::with_article(&w);
        match self {
            Shape::Num => "a number".into(),
            Shape::Regex => "a regex (a string)".into(),
            Shape::List(_) => a(self.to_string()),
            Shape::OneOf(ss) => ss.iter().map(|s| s.noun()).collect::<Vec<_>>().join(" or "),
            Shape::Var(s) => s.noun(),
            Shape::Is(t) => a(t.to_string()),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Num => f.write_str("num"),
            Shape::Regex => f.write_str("regex"),
            Shape::List(s) => write!(f, "list<{s}>"),
            Shape::OneOf(ss) => {
                let v: Vec<String> = ss.iter().map(|s| s.to_string()).collect();
                f.write_str(&v.join("|"))
            }
            Shape::Var(Shape::Is(Ty::Any)) => f.write_str("T"),
            Shape::Var(s) => write!(f, "T: {s}"),
            Shape::Is(t) => write!(f, "{t}"),
        }
    }
}

/// Reads a field of a value of the owning type.
pub type Getter = for<'e, 'm, 'k> fn(&'e Ctx<'m, 'k>, &'e Value<'k>, Span) -> R<'k>;
/// Computes a root.
pub type RootGetter = for<'e, 'm, 'k> fn(&'e Ctx<'m, 'k>, Span) -> R<'k>;
/// Runs a function on evaluated arguments.
pub type Call = for<'e, 'm, 'k> fn(&'e mut Ctx<'m, 'k>, &'e Args<'k>) -> R<'k>;

pub struct Field {
    pub name: &'static str,
    pub ty: Shape,
    pub doc: &'static str,
    /// What reading it needs, where it is not its type's
    /// ([`TypeDecl::needs`]): a report's `task` looks the log's pid up in
    /// the dump's tasks.
    pub needs: Option<Need>,
    pub get: Getter,
}

/// A type of the model and its fields.
pub struct TypeDecl {
    /// As [`Ty::name`] spells it.
    pub name: &'static str,
    pub doc: &'static str,
    /// What reading its fields needs (a field may declare its own).
    pub needs: Need,
    pub fields: &'static [Field],
}

impl TypeDecl {
    /// What reading this field of the type needs.
    pub fn field_needs(&self, f: &Field) -> Need {
        f.needs.unwrap_or(self.needs)
    }
}

pub struct Param {
    pub name: &'static str,
    pub ty: Shape,
}

/// One way to call a function.
pub struct Sig {
    pub params: &'static [Param],
    pub result: Shape,
}

impl fmt::Display for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ps: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        let r = match &self.result {
            Shape::Var(_) => "T".to_string(),
            Shape::List(Shape::Var(_)) => "list<T>".to_string(),
            r => r.to_string(),
        };
        write!(f, "({}) -> {r}", ps.join(", "))
    }
}

pub struct Function {
    pub name: &'static str,
    /// Its signatures (overloads), tried in order.
    pub sigs: &'static [Sig],
    pub doc: &'static str,
    /// What a call needs beyond its arguments.
    pub needs: Need,
    pub call: Call,
}

impl Function {
    /// Every signature as `name(params) -> result`.
    pub fn signatures(&self) -> Vec<String> {
        self.sigs
            .iter()
            .map(|s| format!("{}{s}", self.name))
            .collect()
    }
    /// The numbers of arguments it takes, e.g. "1 or 2 arguments".
    pub fn arities(&self) -> String {
        let mut n: Vec<usize> = self.sigs.iter().map(|s| s.params.len()).collect();
        n.sort_unstable();
        n.dedup();
        let words: Vec<String> = n.iter().map(|x| x.to_string()).collect();
        let plural = if n == [1] { "argument" } else { "arguments" };
        format!("{} {plural}", words.join(" or "))
    }
    pub fn max_arity(&self) -> usize {
        self.sigs.iter().map(|s| s.params.len()).max().unwrap_or(0)
    }
    pub fn takes(&self, n: usize) -> bool {
        self.sigs.iter().any(|s| s.params.len() == n)
    }
}

pub struct Root {
    pub name: &'static str,
    pub ty: Shape,
    pub doc: &'static str,
    pub needs: Need,
    pub get: RootGetter,
}

pub struct Constant {
    pub name: &'static str,
    pub value: i64,
    pub doc: &'static str,
}

/// One subject's declarations.
pub struct Module {
    pub name: &'static str,
    pub doc: &'static str,
    pub roots: &'static [Root],
    pub types: &'static [TypeDecl],
    pub functions: &'static [Function],
    pub constants: &'static [Constant],
}

/// Every module, in the order `vmtriage schema` prints them.
pub static MODULES: &[&Module] = &[
    &tasks::MODULE,
    &files::MODULE,
    &locks::MODULE,
    &kernel::MODULE,
    &log::MODULE,
    &memory::MODULE,
    &sched::MODULE,
    &collections::MODULE,
    &numbers::MODULE,
    &text::MODULE,
    &symbols::MODULE,
];

pub fn roots() -> impl Iterator<Item = &'static Root> {
    MODULES.iter().flat_map(|m| m.roots)
}
pub fn types() -> impl Iterator<Item = &'static TypeDecl> {
    MODULES.iter().flat_map(|m| m.types)
}
pub fn functions() -> impl Iterator<Item = &'static Function> {
    MODULES.iter().flat_map(|m| m.functions)
}
pub fn constants() -> impl Iterator<Item = &'static Constant> {
    MODULES.iter().flat_map(|m| m.constants)
}

pub fn root(name: &str) -> Option<&'static Root> {
    roots().find(|r| r.name == name)
}
pub fn constant(name: &str) -> Option<&'static Constant> {
    constants().find(|c| c.name == name)
}
pub fn type_decl(name: &str) -> Option<&'static TypeDecl> {
    types().find(|t| t.name == name)
}

/// The function of that name (looked up on every call: indexed).
pub fn function(name: &str) -> Option<&'static Function> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static Function>> = OnceLock::new();
    BY_NAME
        .get_or_init(|| functions().map(|f| (f.name, f)).collect())
        .get(name)
        .copied()
}

/// The field `name` of the type named `owner` (looked up on every field
/// access: indexed).
pub fn field(owner: &str, name: &str) -> Option<&'static Field> {
    static BY_NAME: OnceLock<HashMap<(&'static str, &'static str), &'static Field>> =
        OnceLock::new();
    BY_NAME
        .get_or_init(|| {
            types()
                .flat_map(|t| t.fields.iter().map(move |f| ((t.name, f.name), f)))
                .collect()
        })
        .get(&(owner, name))
        .copied()
}

/// What reading the field `name` of a value of type `t` needs, if `t`
/// has such a field (a list's: its elements'). A kernel object's members
/// are read in the dump's memory.
pub fn field_needs(t: &Ty, name: &str) -> Option<Need> {
    match t {
        Ty::Object => Some(Need::Dump),
        // Known at run time only: what gave the value was counted.
        Ty::Any => Some(Need::Nothing),
        Ty::List(inner) => field_needs(inner, name),
        other => {
            let decl = type_decl(other.name())?;
            decl.fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| decl.field_needs(f))
        }
    }
}

/// The type of `t.name`, if `t` has such a field. Field access on a list
/// maps over its elements (and flattens lists of lists).
pub fn field_type(t: &Ty, name: &str) -> Option<Ty> {
    match t {
        Ty::Object | Ty::Any => Some(Ty::Object),
        Ty::List(inner) => field_type(inner, name).map(|t| match t {
            Ty::List(x) => Ty::List(x),
            t => Ty::List(Box::new(t)),
        }),
        // A group's fields are typed by its elements' type (`T`).
        Ty::Group(inner) => field(t.name(), name).map(|f| f.ty.to_ty(Some(inner))),
        other => field(other.name(), name).map(|f| f.ty.to_ty(None)),
    }
}

/// A call's evaluated arguments. Reading one that was not given is an
/// error, never a panic: implementations may be handed any number.
pub struct Args<'k> {
    pub name: &'static str,
    vals: Vec<Value<'k>>,
    spans: Vec<Span>,
    /// The whole call.
    pub span: Span,
}

impl<'k> Args<'k> {
    pub fn new(name: &'static str, vals: Vec<Value<'k>>, spans: Vec<Span>, span: Span) -> Self {
        Args {
            name,
            vals,
            spans,
            span,
        }
    }
    pub fn len(&self) -> usize {
        self.vals.len()
    }
    pub fn is_empty(&self) -> bool {
        self.vals.is_empty()
    }
    /// The `i`th argument (from 0).
    pub fn get(&self, i: usize) -> Result<&Value<'k>, EvalError> {
        self.vals.get(i).ok_or_else(|| EvalError {
            message: format!(
                "{}() takes {}, {} given",
                self.name,
                function(self.name)
                    .map(|f| f.arities())
                    .unwrap_or_else(|| format!("more than {i} arguments")),
                self.vals.len()
            ),
            span: self.span,
        })
    }
    /// Where the `i`th argument is written (the call if it is not).
    pub fn span(&self, i: usize) -> Span {
        self.spans.get(i).copied().unwrap_or(self.span)
    }
    pub fn values(&self) -> &[Value<'k>] {
        &self.vals
    }
}

/// An error of an implementation at `span`.
pub fn fail<T>(span: Span, msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        message: msg.into(),
        span,
    })
}

/// Maps the model's errors to an error at `span`.
pub fn model_err(span: Span) -> impl Fn(crate::model::ModelError) -> EvalError {
    move |e| EvalError {
        message: e.to_string(),
        span,
    }
}

/// The dump's kernel model behind a model, or "needs a dump" at `span`
/// (the model of a kernel log alone).
pub fn kernel_of<'k>(
    m: &crate::model::Model<'k>,
    span: Span,
) -> Result<&'k kmodel::Kernel, EvalError> {
    m.kernel().map_err(model_err(span))
}

/// Maps the kernel model's errors to an error at `span`.
pub fn kernel_err(span: Span) -> impl Fn(kmodel::Error) -> EvalError {
    move |e| EvalError {
        message: e.to_string(),
        span,
    }
}

/// Element `i` of one of the model's lists (`what` names it in the error).
pub fn nth<'a, T>(
    items: crate::model::ModelResult<&'a [T]>,
    i: usize,
    what: &str,
    span: Span,
) -> Result<&'a T, EvalError> {
    items
        .map_err(model_err(span))?
        .get(i)
        .ok_or_else(|| EvalError {
            message: format!("no {what} #{i}"),
            span,
        })
}

/// The error of a getter handed a value of another type (a bug of the
/// dispatch, reported rather than panicking).
pub fn wrong_owner<T>(owner: &str, v: &Value<'_>, span: Span) -> Result<T, EvalError> {
    fail(
        span,
        format!("internal: a {owner} field read on a {}", v.type_name()),
    )
}

/// A list of tasks by their indices.
pub fn task_list<'k>(ix: impl IntoIterator<Item = usize>) -> Value<'k> {
    Value::list(ix.into_iter().map(Value::Task).collect())
}

/// The tasks at these task_struct addresses, in order (unknown ones left out).
pub fn tasks_at<'k>(ev: &Ctx<'_, 'k>, addrs: impl IntoIterator<Item = u64>, span: Span) -> R<'k> {
    let ix = ev.model(span)?.index().map_err(model_err(span))?;
    Ok(task_list(
        addrs
            .into_iter()
            .filter_map(|a| ix.by_addr.get(&a).copied()),
    ))
}

/// The task at this address, null if none.
pub fn task_at<'k>(ev: &Ctx<'_, 'k>, addr: Option<u64>, span: Span) -> R<'k> {
    let Some(addr) = addr else {
        return Ok(Value::Null);
    };
    let ix = ev.model(span)?.index().map_err(model_err(span))?;
    Ok(ix
        .by_addr
        .get(&addr)
        .map(|i| Value::Task(*i))
        .unwrap_or(Value::Null))
}

/// An optional number as a value (null when absent).
pub fn opt_int<'k>(v: Option<i64>) -> Value<'k> {
    v.map(Value::Int).unwrap_or(Value::Null)
}
/// An optional string as a value (null when absent).
pub fn opt_str<'k>(v: Option<&str>) -> Value<'k> {
    v.map(Value::str).unwrap_or(Value::Null)
}

/// Declares a field whose getter first unpacks its value with `$this`
/// (`fn(&Ctx, &Value, Span) -> Result<X, EvalError>`), then computes
/// `$body` (a [`Value`]; `?` may be used) from the context, `X` and the span.
/// It needs what its type needs, unless `needs: Some(Need::…)` says otherwise.
macro_rules! decl_field {
    ($this:path, $name:literal, $ty:expr, $doc:literal,
     |$ev:pat_param, $x:pat_param, $span:pat_param| $body:expr) => {
        $crate::builtins::decl_field!($this, $name, $ty, $doc, needs: None,
            |$ev, $x, $span| $body)
    };
    ($this:path, $name:literal, $ty:expr, $doc:literal, needs: $needs:expr,
     |$ev:pat_param, $x:pat_param, $span:pat_param| $body:expr) => {
        $crate::builtins::Field {
            name: $name,
            ty: $ty,
            doc: $doc,
            needs: $needs,
            get: |ev, v, span| {
                let $x = $this(ev, v, span)?;
                let $ev = ev;
                let $span = span;
                let value: $crate::value::Value = $body;
                Ok(value)
            },
        }
    };
}
pub(crate) use decl_field;

#[cfg(test)]
mod tests;
