//! Open files: a task's file descriptors as /proc/PID/fd shows them — the
//! path (`/dev/fuse`, `pipe:[1234]`), the filesystem, and the file's
//! `file_operations`, which says what a file is where its path does not
//! (`fuse_dev_operations [fuse]`: this task serves a FUSE mount).

use crate::error::Result;
use crate::object::Object;
use crate::tasks::Task;
use crate::Kernel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    pub fd: u32,
    /// The `struct file`.
    pub file: u64,
    /// As `readlink /proc/PID/fd/N` gives it.
    pub path: String,
    /// The filesystem type's name (`ext4`, `fuse`, `pipefs`, `devtmpfs`).
    pub fs_type: String,
    /// The `file_operations` symbol `f_op` points at (`fuse_dev_operations`),
    /// and the module that defines it; None where no symbol covers it.
    pub ops: Option<String>,
    pub ops_module: Option<String>,
}

/// More descriptors than `fs.nr_open`'s default allows; bounds a damaged table.
const MAX_FDS: u64 = 1 << 20;
/// Deeper than any real path; bounds a dentry or mount cycle.
const MAX_COMPONENTS: usize = 4096;

impl Kernel {
    /// The task's open files in descriptor order; empty for a task without
    /// a file table (kernel threads, a task past `exit_files`). A file whose
    /// `struct file` cannot be read is left out, the others stay.
    pub fn open_files(&self, task: &Task<'_>) -> Result<Vec<OpenFile>> {
        let files = task.obj.member("files")?.as_u64()?;
        if files == 0 {
            return Ok(Vec::new());
        }
        let fdt = task.obj.member("files.fdt")?.deref()?;
        let max = fdt.member("max_fds")?.as_u64()?.min(MAX_FDS);
        // The bitmap says which slots are open, as the kernel's own walk does.
        let words = max.div_ceil(64) as usize;
        let mut bits = vec![0u8; words * 8];
        self.read(fdt.member("open_fds")?.as_u64()?, &mut bits)?;
        let array = fdt.member("fd")?.as_u64()?;
        let mut out = Vec::new();
        for (w, word) in bits.chunks_exact(8).enumerate() {
            let mut word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            while word != 0 {
                let fd = w as u64 * 64 + u64::from(word.trailing_zeros());
                word &= word - 1;
                if fd >= max {
                    break;
                }
                let Ok(file) = self.read_u64(array + fd * 8) else {
                    continue;
                };
                if file == 0 {
                    continue;
                }
                if let Ok(f) = self.open_file(fd as u32, file) {
                    out.push(f);
                }
            }
        }
        Ok(out)
    }

    fn open_file(&self, fd: u32, file: u64) -> Result<OpenFile> {
        let f = self.object(file, "struct file")?;
        let ops = f.member("f_op")?.as_u64()?;
        let mnt = f.member("f_path.mnt")?.as_u64()?;
        let dentry = f.member("f_path.dentry")?.deref()?;
        let fs_type = dentry
            .member("d_sb.s_type.name")
            .and_then(|n| n.as_u64())
            .and_then(|p| self.read_cstr(p, 64))
            .unwrap_or_default();
        // `name`, or `name+0x10` (an f_op is a symbol's start), and the
        // module that defines it.
        let (name, module) = match (ops != 0).then(|| self.symbol_of(ops)).flatten() {
            Some(s) => {
                let module = s.module.clone();
                let name = crate::modules::DataSymbol { module: None, ..s }.to_string();
                (Some(name), module)
            }
            None => (None, None),
        };
        Ok(OpenFile {
            fd,
            file,
            path: self.file_path(mnt, &dentry, &fs_type)?,
            fs_type,
            ops: name,
            ops_module: module,
        })
    }

    /// The path of a dentry seen through a mount, as the kernel's `d_path`
    /// gives it: up the dentries to the mount's root, then across to where
    /// that mount is mounted, up to the root of the mount tree. Files of
    /// the kernel's internal filesystems are named as /proc names them.
    fn file_path(&self, mnt: u64, dentry: &Object<'_>, fs_type: &str) -> Result<String> {
        // Their dentries name themselves (`d_op->d_dname`).
        if dentry.member("d_op")?.as_u64()? != 0 && dentry.member("d_op.d_dname")?.as_u64()? != 0 {
            let ino = dentry.member("d_inode.i_ino")?.as_u64()?;
            let name = self.dentry_name(dentry)?;
            return Ok(match fs_type {
                "pipefs" => format!("pipe:[{ino}]"),
                "sockfs" => format!("socket:[{ino}]"),
                "anon_inodefs" => format!("anon_inode:{name}"),
                _ if !name.is_empty() => format!("{fs_type}:{name}"),
                _ => format!("{fs_type}:[{ino}]"),
            });
        }
        let mut names = Vec::new();
        let mut d = dentry.addr;
        let mut m = self
            .object(mnt, "struct vfsmount")?
            .container_of("struct mount", "mnt")?;
        for _ in 0..MAX_COMPONENTS {
            if d == m.member("mnt.mnt_root")?.as_u64()? {
                let parent = m.member("mnt_parent")?.as_u64()?;
                if parent == m.addr {
                    break;
                }
                d = m.member("mnt_mountpoint")?.as_u64()?;
                m = self.object(parent, "struct mount")?;
                continue;
            }
            let de = self.object(d, "struct dentry")?;
            let up = de.member("d_parent")?.as_u64()?;
            if up == d {
                break;
            }
            names.push(self.dentry_name(&de)?);
            d = up;
        }
        names.reverse();
        Ok(format!("/{}", names.join("/")))
    }

    fn dentry_name(&self, d: &Object<'_>) -> Result<String> {
        let p = d.member("d_name.name")?.as_u64()?;
        self.read_cstr(p, 256)
    }
}
