//! Sandboxed rhai helpers: functions a rule pack defines in `.rhai` files and
//! rules call like built-ins. No standard library beyond what is registered,
//! no modules, no file/network/process access; operation, depth, size and
//! wall-clock limits. A helper file that breaks a limit when it is compiled
//! is an error of that file (H001, H002); one that breaks a limit when it runs
//! is an error of the calling rule on that dump, and the other rules run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, ParseErrorType, Scope, AST};

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

pub struct RhaiHelpers {
    /// Made on first use: a pack without helper files (the embedded one)
    /// never needs it, and building rhai's standard packages is most of the
    /// cost of loading a pack.
    engine: std::sync::OnceLock<Engine>,
    ast: Option<AST>,
    pub names: Vec<String>,
    deadline: Arc<std::sync::Mutex<Instant>>,
}

fn sandbox(deadline: Arc<std::sync::Mutex<Instant>>) -> Engine {
    // Engine::new() brings the standard package (strings, arrays, maps, math)
    // and nothing that touches the outside world; no_module removes imports.
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
    e.on_progress(move |_| {
        let d = *deadline.lock().unwrap_or_else(|p| p.into_inner());
        if Instant::now() > d {
            Some(Dynamic::from("time limit exceeded"))
        } else {
            None
        }
    });
    e
}

impl RhaiHelpers {
    fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| sandbox(self.deadline.clone()))
    }

    pub fn empty() -> RhaiHelpers {
        let deadline = Arc::new(std::sync::Mutex::new(Instant::now()));
        RhaiHelpers {
            engine: std::sync::OnceLock::new(),
            ast: None,
            names: Vec::new(),
            deadline,
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
                    let d = match e.err_type() {
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
/// names the limit.
fn runtime_error(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorInFunctionCall(f, _, inner, pos) => match inner.as_ref() {
            // Errors in nested calls: the innermost says what happened.
            EvalAltResult::ErrorInFunctionCall(..) => runtime_error(inner),
            other => format!("{} (in `{f}`{})", runtime_error(other), at(*pos)),
        },
        EvalAltResult::ErrorTooManyOperations(_) => {
            format!("stopped after {MAX_OPERATIONS} operations (a loop that never ends?)")
        }
        EvalAltResult::ErrorTerminated(..) => {
            format!("stopped after {} ms", TIME_LIMIT.as_millis())
        }
        EvalAltResult::ErrorStackOverflow(pos) => format!(
            "stopped: calls nest more than {MAX_CALL_LEVELS} levels deep (a recursion that never ends?){}",
            at(*pos)
        ),
        EvalAltResult::ErrorDataTooLarge(what, pos) => format!(
            "stopped: {} over the limit (strings {MAX_STRING_SIZE} bytes, arrays {MAX_ARRAY_SIZE} elements, maps {MAX_MAP_SIZE} entries){}",
            what.to_lowercase(),
            at(*pos)
        ),
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
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now() + TIME_LIMIT;
        let args: Vec<Dynamic> = args.into_iter().map(to_dynamic).collect();
        let mut scope = Scope::new();
        let r = self
            .engine()
            .call_fn::<Dynamic>(&mut scope, ast, name, args);
        Some(match r {
            Ok(d) => rhai::serde::from_dynamic::<serde_json::Value>(&d).map_err(|e| e.to_string()),
            Err(e) => Err(runtime_error(&e)),
        })
    }
}
