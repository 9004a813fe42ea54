//! Open files: the `file` type (a task's `files`).

use kmodel::files::OpenFile;
use vmtriage_dsl::ast::Span;

use super::{decl_field, model_err, opt_str, wrong_owner, Ctx, Module, Shape, TypeDecl};
use crate::ty::{Need, Ty};
use crate::value::EvalError;
use crate::value::Value;

pub static MODULE: Module = Module {
    name: "files",
    doc: "open files, as /proc/PID/fd shows them (a task's `files`)",
    roots: &[],
    types: &[FILE],
    functions: &[],
    constants: &[],
};

/// The open file a `file` value names.
fn file<'k>(ev: &Ctx<'_, 'k>, v: &Value<'k>, span: Span) -> Result<OpenFile, EvalError> {
    let Value::File(t, f) = v else {
        return wrong_owner("file", v, span);
    };
    let files = ev.model(span)?.open_files(*t).map_err(model_err(span))?;
    files.get(*f).cloned().ok_or_else(|| EvalError {
        message: format!("no open file #{f} of task #{t}"),
        span,
    })
}

const FILE: TypeDecl = TypeDecl {
    name: "file",
    needs: Need::Dump,
    doc: "an open file of a task: its descriptor, path and file_operations",
    fields: &[
        decl_field!(file, "fd", Shape::Is(Ty::Int), "the file descriptor", |_, f, _| {
            Value::Int(f.fd as i64)
        }),
        decl_field!(
            file,
            "path",
            Shape::Is(Ty::Str),
            "the path as `readlink /proc/PID/fd/N` gives it (`/dev/fuse`, `pipe:[1234]`, `socket:[5678]`, `anon_inode:[eventfd]`)",
            |_, f, _| Value::str(&f.path)
        ),
        decl_field!(
            file,
            "fs_type",
            Shape::Is(Ty::Str),
            "the filesystem's type name (`ext4`, `fuse`, `devtmpfs`, `pipefs`, `sockfs`)",
            |_, f, _| Value::str(&f.fs_type)
        ),
        decl_field!(
            file,
            "ops",
            Shape::Is(Ty::Str),
            "the file_operations it uses, by symbol (`fuse_dev_operations`, `ext4_file_operations`): what the file is, whatever its path; null if no symbol covers it",
            |_, f, _| opt_str(f.ops.as_deref())
        ),
        decl_field!(
            file,
            "ops_module",
            Shape::Is(Ty::Str),
            "the module defining those file_operations (null when built in)",
            |_, f, _| opt_str(f.ops_module.as_deref())
        ),
        decl_field!(file, "address", Shape::Is(Ty::Int), "address of the struct file", |_, f, _| {
            Value::Int(f.file as i64)
        }),
    ],
};
