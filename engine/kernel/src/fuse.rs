//! FUSE: which tasks serve a FUSE filesystem (those holding a `/dev/fuse`
//! file open, whatever it is called there) and which stacks wait on one.
//! A task blocked on a FUSE file waits for its daemon: a request in
//! `request_wait_answer`, or a page a FUSE read holds locked.

use crate::files::OpenFile;
use crate::frames::base_name;

/// The `file_operations` of `/dev/fuse` (fs/fuse/dev.c), fuse.ko's or built in.
pub const DEV_OPERATIONS: &str = "fuse_dev_operations";

/// Whether these open files make their task a FUSE server.
pub fn serves_fuse(files: &[OpenFile]) -> bool {
    files
        .iter()
        .any(|f| f.ops.as_deref() == Some(DEV_OPERATIONS))
}

/// Whether a stack (function names, innermost first) is inside FUSE's
/// client side: every FUSE entry point and request path is `fuse_*`, and
/// the wait for an answer is `request_wait_answer`. The server's own read
/// of `/dev/fuse` (`fuse_dev_*`) is not a wait on FUSE.
pub fn waits_on_fuse<'a>(functions: impl IntoIterator<Item = &'a str>) -> bool {
    let mut client = false;
    for f in functions {
        let f = base_name(f);
        if f.starts_with("fuse_dev_") {
            return false;
        }
        client |= f == "request_wait_answer" || f.starts_with("fuse_");
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_server_stacks() {
        // 6.1: a reader behind the page a FUSE read holds, and one in the request.
        assert!(waits_on_fuse([
            "__schedule",
            "io_schedule",
            "folio_wait_bit_common",
            "filemap_get_pages",
            "filemap_read",
            "fuse_cache_read_iter",
            "vfs_read"
        ]));
        assert!(waits_on_fuse([
            "schedule",
            "request_wait_answer",
            "__fuse_simple_request",
            "fuse_lookup_name"
        ]));
        // The daemon waiting for requests is not waiting on FUSE.
        assert!(!waits_on_fuse([
            "schedule",
            "fuse_dev_do_read",
            "fuse_dev_read",
            "vfs_read"
        ]));
        assert!(!waits_on_fuse(["schedule", "io_schedule", "ext4_read"]));
    }
}
