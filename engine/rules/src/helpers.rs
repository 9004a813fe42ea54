//! Sandboxed rhai helpers: functions a rule pack defines in `.rhai` files and
//! rules call like built-ins. No standard library beyond what is registered,
//! no modules, no file/network/process access; operation, depth, size and
//! wall-clock limits. A helper file that breaks a limit when it is compiled
//! is an error of that file (H001, H002, H003); one that breaks a limit when
//! it runs is an error of the calling rule on that dump, and the other rules
//! run.
//!
//! No helper may wait: the wall-clock limit is checked at each operation, so
//! a function that blocks inside one operation would hold the scan for as
//! long as it likes. rhai's only such function is `sleep` (its standard
//! package has no I/O): naming it is H003 when the file is compiled, and a
//! call that reaches it anyway (`Fn("sl" + "eep").call(1)`) is an error at
//! once.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, LexError, ParseErrorType, Position, Scope, Token, AST};

use crate::diag::{Code, RuleDiagnostic};
use crate::value::Helpers;

/// The largest helper file read (bytes); a larger one is H002 before rhai sees it.
pub const MAX_HELPER_FILE_BYTES: usize = 256 * 1024;
/// Operations one helper call may spend (a loop that never ends stops here).
pub const MAX_OPERATIONS: u64 = 2_000_000;
/// Wall-clock time one helper call may take, checked at every operation.
pub const TIME_LIMIT: Duration = Duration::from_millis(500);
/// How deep helper functions may call each other (recursion included).
pub const MAX_CALL_LEVELS: usize = 32;
/// How deep an expression may nest at the top level of a helper file, and
/// inside a function body (rhai's parser recurses on nesting).
pub const MAX_EXPR_DEPTH: usize = 64;
pub const MAX_FUNCTION_EXPR_DEPTH: usize = 32;
/// The longest string a helper may build or write (bytes).
pub const MAX_STRING_SIZE: usize = 1 << 20;
/// The most elements of an array a helper may build (a dump's tasks, passed
/// as an array, fit).
pub const MAX_ARRAY_SIZE: usize = 100_000;
/// The most entries of an object map a helper may build (rhai checks it when
/// an operation returns a map; a map grown one key at a time is bounded by
/// the operation and time limits).
pub const MAX_MAP_SIZE: usize = 10_000;
/// The most functions a pack's helper files may define.
pub const MAX_FUNCTIONS: usize = 1_000;
/// The functions of rhai's standard package that block without spending
/// operations, which no helper may call.
pub const WAITING_FUNCTIONS: &[&str] = &["sleep"];

/// Why a helper may not wait (the label of H003, and the run-time error of a
/// call that reaches such a function).
const NO_WAITING: &str = "helpers may not wait";

thread_local! {
    /// When the time of the helper call running on this thread is up. Per
    /// thread, so that the calls of scans running in parallel (`--isolate
    /// thread`) do not move each other's deadline.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

pub struct RhaiHelpers {
    /// Made on first use: a pack without helper files (the embedded one)
    /// never needs it, and building rhai's standard packages is most of the
    /// cost of loading a pack.
    engine: std::sync::OnceLock<Engine>,
    ast: Option<AST>,
    pub names: Vec<String>,
}

/// The run-time stand-in of a waiting function: an error, at once.
fn refuse_wait(name: &'static str) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(format!("`{name}` is not available: {NO_WAITING}")),
        Position::NONE,
    ))
}

fn sandbox() -> Engine {
    // Engine::new() brings the standard package (strings, arrays, maps, math,
    // and `sleep`, shadowed below) and nothing that touches the outside
    // world; no_module removes imports.
    let mut e = Engine::new();
    e.set_max_operations(MAX_OPERATIONS);
    e.set_max_call_levels(MAX_CALL_LEVELS);
    e.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FUNCTION_EXPR_DEPTH);
    e.set_max_string_size(MAX_STRING_SIZE);
    e.set_max_array_size(MAX_ARRAY_SIZE);
    e.set_max_map_size(MAX_MAP_SIZE);
    e.set_max_functions(MAX_FUNCTIONS);
    e.set_strict_variables(true);
    e.disable_symbol("eval");
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    // A function the engine registers is found before the packages' (the
    // engine's own namespace comes first): these shadow rhai's `sleep` for
    // calls the compiler cannot see (through `Fn(..)` or `call(..)`).
    e.register_fn("sleep", |_: rhai::INT| -> Result<(), Box<EvalAltResult>> {
        Err(refuse_wait("sleep"))
    });
    e.register_fn(
        "sleep",
        |_: rhai::FLOAT| -> Result<(), Box<EvalAltResult>> { Err(refuse_wait("sleep")) },
    );
    // The name itself, wherever a helper file writes it, is a compile error
    // at its position (H003).
    #[allow(deprecated)] // rhai marks the token hook volatile, not deprecated
    e.on_parse_token(|token, _, _| match &token {
        Token::Identifier(name) if WAITING_FUNCTIONS.contains(&name.as_str()) => {
            Token::LexError(Box::new(LexError::ImproperSymbol(
                name.to_string(),
                NO_WAITING.into(),
            )))
        }
        _ => token,
    });
    e.on_progress(|_| {
        let over = DEADLINE.get().is_some_and(|d| Instant::now() > d);
        over.then(|| Dynamic::from("time limit exceeded"))
    });
    e
}

impl RhaiHelpers {
    fn engine(&self) -> &Engine {
        self.engine.get_or_init(sandbox)
    }

    pub fn empty() -> RhaiHelpers {
        RhaiHelpers {
            engine: std::sync::OnceLock::new(),
            ast: None,
            names: Vec::new(),
        }
    }

    /// Compiles helper files; every file that does not compile, or breaks a
    /// limit of the sandbox, is a diagnostic at its line and column, and the
    /// functions of the other files are kept.
    pub fn compile(files: &[(String, String)]) -> (RhaiHelpers, Vec<RuleDiagnostic>) {
        let mut h = RhaiHelpers::empty();
        let mut errs = Vec::new();
        let mut ast: Option<AST> = None;
        for (name, src) in files {
            let text = Arc::new(src.clone());
            if src.len() > MAX_HELPER_FILE_BYTES {
                errs.push(
                    RuleDiagnostic::new(
                        Code::HelperTooLarge,
                        "helper file too large",
                        name,
                        &text,
                        (0, 1),
                    )
                    .label(format!(
                        "a helper file may be at most {MAX_HELPER_FILE_BYTES} bytes; this one is larger"
                    ))
                    .help("helpers are small functions; split the file or move the logic into rules"),
                );
                continue;
            }
            match h.engine().compile(src) {
                Ok(a) => {
                    for f in a.iter_functions() {
                        h.names.push(f.name.to_string());
                    }
                    ast = Some(match ast {
                        Some(prev) => prev.merge(&a),
                        None => a,
                    });
                }
                Err(e) => {
                    let pos = e.position();
                    let off = pos
                        .line()
                        .map(|l| {
                            src.split_inclusive('\n')
                                .take(l.saturating_sub(1))
                                .map(|x| x.len())
                                .sum::<usize>()
                                + pos.position().unwrap_or(1).saturating_sub(1)
                        })
                        .unwrap_or(0)
                        .min(src.len().saturating_sub(1));
                    // The hook refuses the name as a token; where rhai
                    // expects a property name (`t.sleep()`) it reports its
                    // own error at the name instead.
                    let waits = match e.err_type() {
                        ParseErrorType::BadInput(LexError::ImproperSymbol(f, why))
                            if why == NO_WAITING =>
                        {
                            WAITING_FUNCTIONS.iter().find(|w| *w == f)
                        }
                        _ => WAITING_FUNCTIONS.iter().find(|w| {
                            src.get(off..).is_some_and(|rest| {
                                rest.starts_with(**w)
                                    && !rest[w.len()..]
                                        .starts_with(|c: char| c.is_alphanumeric() || c == '_')
                            })
                        }),
                    };
                    let d = match e.err_type() {
                        _ if waits.is_some() => {
                            let f = waits.copied().unwrap_or_default();
                            RuleDiagnostic::new(Code::HelperWaits, format!("helper calls `{f}`"), name, &text, (off, off + f.len()))
                                .label(format!("`{f}` blocks without spending operations; {NO_WAITING}"))
                                .help("a helper computes a value from its arguments; the scan does not wait for anything, so leave the call out")
                        }
                        ParseErrorType::ExprTooDeep => RuleDiagnostic::new(Code::HelperTooLarge, "helper nested too deeply", name, &text, (off, off + 1))
                            .label(format!("expressions nest more than {MAX_EXPR_DEPTH} levels here ({MAX_FUNCTION_EXPR_DEPTH} inside a function)"))
                            .help("split the expression with `let` variables or small functions"),
                        ParseErrorType::TooManyFunctions => RuleDiagnostic::new(Code::HelperTooLarge, "too many helper functions", name, &text, (off, off + 1))
                            .label(format!("more than {MAX_FUNCTIONS} functions"))
                            .help("a pack's helpers are a few small functions"),
                        ParseErrorType::LiteralTooLarge(what, max) => RuleDiagnostic::new(Code::HelperTooLarge, "helper literal too large", name, &text, (off, off + 1))
                            .label(format!("a {} longer than {max}", what.to_lowercase()))
                            .help(format!("strings are at most {MAX_STRING_SIZE} bytes, arrays {MAX_ARRAY_SIZE} elements, maps {MAX_MAP_SIZE} entries")),
                        other => RuleDiagnostic::new(Code::HelperCompile, "helper does not compile", name, &text, (off, off + 1))
                            .label(other.to_string())
                            .help("helpers are rhai functions: `fn name(x) { ... }`"),
                    };
                    errs.push(d);
                }
            }
        }
        h.ast = ast;
        (h, errs)
    }
}

/// What a helper's run-time error says to the rule author: a broken limit
/// says what was measured against which limit (`took`: the call's time).
fn runtime_error(e: &EvalAltResult, took: Duration) -> String {
    let ms = took.as_millis();
    match e {
        EvalAltResult::ErrorInFunctionCall(f, _, inner, pos) => match inner.as_ref() {
            // Errors in nested calls: the innermost says what happened.
            EvalAltResult::ErrorInFunctionCall(..) => runtime_error(inner, took),
            other => format!("{} (in `{f}`{})", runtime_error(other, took), at(*pos)),
        },
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "stopped after {} operations in {ms} ms, over the limit of {MAX_OPERATIONS} (a loop that never ends?)",
            MAX_OPERATIONS + 1
        ),
        EvalAltResult::ErrorTerminated(..) => format!(
            "stopped after {ms} ms, over the time limit of {} ms",
            TIME_LIMIT.as_millis()
        ),
        EvalAltResult::ErrorStackOverflow(pos) => format!(
            "stopped: calls nested {} levels deep, over the limit of {MAX_CALL_LEVELS} (a recursion that never ends?){}",
            MAX_CALL_LEVELS + 1,
            at(*pos)
        ),
        EvalAltResult::ErrorDataTooLarge(what, pos) => {
            // rhai stops the value as it grows past the limit, without its size.
            let limit = match what.to_lowercase() {
                w if w.contains("string") => format!("{MAX_STRING_SIZE} bytes"),
                w if w.contains("map") => format!("{MAX_MAP_SIZE} entries"),
                _ => format!("{MAX_ARRAY_SIZE} elements"),
            };
            format!(
                "stopped: {} over the limit of {limit}{}",
                what.to_lowercase(),
                at(*pos)
            )
        }
        EvalAltResult::ErrorRuntime(v, pos) => format!("{v}{}", at(*pos)),
        other => other.to_string(),
    }
}

/// `, at line L, column C` of the helper file, when rhai knows it.
fn at(pos: rhai::Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!(", at line {l}, column {c}"),
        (Some(l), None) => format!(", at line {l}"),
        _ => String::new(),
    }
}

fn to_dynamic(v: serde_json::Value) -> Dynamic {
    rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT)
}

impl Helpers for RhaiHelpers {
    fn call(
        &self,
        name: &str,
        args: Vec<serde_json::Value>,
    ) -> Option<Result<serde_json::Value, String>> {
        let ast = self.ast.as_ref()?;
        if !self.names.iter().any(|n| n == name) {
            return None;
        }
        let args: Vec<Dynamic> = args.into_iter().map(to_dynamic).collect();
        let mut scope = Scope::new();
        let start = Instant::now();
        DEADLINE.set(Some(start + TIME_LIMIT));
        let r = self
            .engine()
            .call_fn::<Dynamic>(&mut scope, ast, name, args);
        DEADLINE.set(None);
        Some(match r {
            Ok(d) => rhai::serde::from_dynamic::<serde_json::Value>(&d).map_err(|e| e.to_string()),
            Err(e) => Err(runtime_error(&e, start.elapsed())),
        })
    }
}
