//! Sandboxed rhai helpers: functions a rule pack defines in `.rhai` files and
//! rules call like built-ins. No standard library beyond what is registered,
//! no modules, no file/network/process access; operation, depth, size and
//! wall-clock limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, Scope, AST};

use crate::eval::Helpers;

pub const MAX_OPERATIONS: u64 = 2_000_000;
pub const TIME_LIMIT: Duration = Duration::from_millis(500);

pub struct RhaiHelpers {
    engine: Engine,
    ast: Option<AST>,
    pub names: Vec<String>,
    deadline: Arc<std::sync::Mutex<Instant>>,
}

fn sandbox(deadline: Arc<std::sync::Mutex<Instant>>) -> Engine {
    // Engine::new() brings the standard package (strings, arrays, maps, math)
    // and nothing that touches the outside world; no_module removes imports.
    let mut e = Engine::new();
    e.set_max_operations(MAX_OPERATIONS);
    e.set_max_call_levels(32);
    e.set_max_expr_depths(64, 32);
    e.set_max_string_size(1 << 20);
    e.set_max_array_size(100_000);
    e.set_max_map_size(100_000);
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
    pub fn empty() -> RhaiHelpers {
        let deadline = Arc::new(std::sync::Mutex::new(Instant::now()));
        RhaiHelpers {
            engine: sandbox(deadline.clone()),
            ast: None,
            names: Vec::new(),
            deadline,
        }
    }

    /// Compiles helper files; returns (file, message, byte offset) per error.
    pub fn compile(
        files: &[(String, String)],
    ) -> Result<RhaiHelpers, Vec<(String, String, usize)>> {
        let mut h = RhaiHelpers::empty();
        let mut errs = Vec::new();
        let mut ast: Option<AST> = None;
        for (name, src) in files {
            match h.engine.compile(src) {
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
                        .unwrap_or(0);
                    errs.push((name.clone(), e.to_string(), off));
                }
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        h.ast = ast;
        Ok(h)
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
        let r = self.engine.call_fn::<Dynamic>(&mut scope, ast, name, args);
        Some(match r {
            Ok(d) => rhai::serde::from_dynamic::<serde_json::Value>(&d).map_err(|e| e.to_string()),
            Err(e) => Err(match *e {
                rhai::EvalAltResult::ErrorTooManyOperations(_) => {
                    format!("stopped after {MAX_OPERATIONS} operations (a loop that never ends?)")
                }
                rhai::EvalAltResult::ErrorTerminated(..) => {
                    format!("stopped after {} ms", TIME_LIMIT.as_millis())
                }
                other => other.to_string(),
            }),
        })
    }
}
