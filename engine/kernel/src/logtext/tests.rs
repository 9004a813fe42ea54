use super::*;
use crate::oops::{parse_log, OopsKind};

/// A small oops as a 6.1 kernel prints it (arch/x86/mm/fault.c,
/// arch/x86/kernel/dumpstack.c), one line each, without prefixes.
const OOPS: &[&str] = &[
    "Linux version 6.1.0-27-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)",
    "Command line: BOOT_IMAGE=/vmlinuz root=/dev/vda1 console=ttyS0",
    "vmt_scen: loading out-of-tree module taints kernel.",
    "BUG: kernel NULL pointer dereference, address: 0000000000000008",
    "#PF: supervisor read access in kernel mode",
    "Oops: 0000 [#1] PREEMPT SMP NOPTI",
    "CPU: 1 PID: 97 Comm: insmod Tainted: G           O       6.1.0-27-cloud-amd64 #1 Debian 6.1.115-1",
    "Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014",
    "RIP: 0010:null_reader+0x11/0x30 [vmt_scen]",
    "Code: 00 00 00 00 00 0f 1f 44 00 00 48 8b 47 08 c3",
    "RSP: 0018:ffffb1c0c03c7d98 EFLAGS: 00010246",
    "Call Trace:",
    " <TASK>",
    " ? __die+0x23/0x70",
    " scen_init+0x2a/0x1000 [vmt_scen]",
    " do_one_initcall+0x56/0x220",
    " do_init_module+0x4a/0x200",
    " </TASK>",
    "Modules linked in: vmt_scen(O+)",
    "---[ end trace 0000000000000000 ]---",
    "Kernel panic - not syncing: Fatal exception",
];

fn stamped(lines: &[&str]) -> String {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("[{:>5}.{:06}] {l}\n", i / 10, (i % 10) * 1000))
        .collect()
}

fn texts(log: &LogText) -> Vec<&str> {
    log.records.iter().map(|r| r.text.as_str()).collect()
}

fn the_oops(log: &LogText) {
    let reports = parse_log(&log.records);
    assert_eq!(reports.len(), 2, "{reports:#?}");
    assert_eq!(reports[0].kind, OopsKind::PageFault { null: true });
    assert_eq!(reports[0].site().as_deref(), Some("null_reader [vmt_scen]"));
    assert_eq!(reports[0].call_trace.len(), 4);
    assert_eq!(reports[1].kind, OopsKind::Panic);
}

#[test]
fn dmesg_with_stamps() {
    let text = stamped(OOPS);
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.form, Form::Dmesg);
    assert_eq!(log.clock, Clock::SinceBoot);
    assert_eq!(texts(&log), OOPS);
    assert_eq!(log.records[12].timestamp_ns, 1_002_000_000);
    assert_eq!(log.records[3].seq, 3);
    assert_eq!(log.release.as_deref(), Some("6.1.0-27-cloud-amd64"));
    assert!(!log.levels && !log.cut && log.skipped == 0);
    assert_eq!(log.span_ns(), Some(2_000_000_000));
    the_oops(&log);
}

#[test]
fn dmesg_without_stamps() {
    let text = OOPS.join("\n");
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.form, Form::Plain);
    assert_eq!(log.clock, Clock::None);
    assert_eq!(texts(&log), OOPS);
    assert!(log.cut, "no line end at the end");
    the_oops(&log);
    // No banner: the report's own lines say what it is.
    let text = OOPS[3..].join("\n");
    assert_eq!(read(text.as_bytes()).unwrap().form, Form::Plain);
}

#[test]
fn syslog_and_journal_lines() {
    let mut text = String::new();
    for (i, l) in OOPS.iter().enumerate() {
        text += &format!("Nov 24 10:00:{:02} web-7 kernel: {l}\n", i);
        if i == 5 {
            text += "Nov 24 10:00:05 web-7 systemd[1]: Started session.\n";
        }
    }
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.form, Form::Syslog);
    assert_eq!(log.clock, Clock::Wall);
    assert_eq!(texts(&log), OOPS);
    assert_eq!(log.skipped, 1);
    assert_eq!(log.records[4].timestamp_ns, 4_000_000_000);
    the_oops(&log);
    // rsyslog keeping the kernel's own stamps; journalctl's short-precise time.
    let text: String = OOPS
        .iter()
        .map(|l| format!("Nov  4 23:59:59.250000 web-7 kernel: [ 1234.500000] {l}\n"))
        .collect();
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.form, Form::Syslog);
    assert_eq!(log.clock, Clock::SinceBoot);
    assert_eq!(log.records[0].timestamp_ns, 1_234_500_000_000);
    assert_eq!(texts(&log), OOPS);
}

#[test]
fn iso_stamps() {
    for zone in ["+00:00", "Z", "+0100", "-05:00", ""] {
        let text: String = OOPS
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "2026-11-24T10:00:{:02}.123456{zone} host kernel: {l}\n",
                    i * 2
                )
            })
            .collect();
        let log = read(text.as_bytes()).unwrap();
        assert_eq!(log.form, Form::Iso, "{zone}");
        assert_eq!(log.records[1].timestamp_ns, 2_000_000_000);
        assert_eq!(texts(&log), OOPS);
        the_oops(&log);
    }
}

#[test]
fn level_prefixes_and_kmsg() {
    let text: String = OOPS.iter().map(|l| format!("<4>{l}\n")).collect();
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.form, Form::Leveled);
    assert!(log.levels);
    assert_eq!(log.records[0].level, 4);
    assert_eq!(texts(&log), OOPS);
    let text: String = OOPS
        .iter()
        .enumerate()
        .map(|(i, l)| format!("<{}>[{:>5}.000000] {l}\n", 8 + i % 8, i))
        .collect();
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.form, Form::Dmesg);
    assert_eq!(log.records[3].level, 3);
    assert_eq!(log.records[3].timestamp_ns, 3_000_000_000);
    assert_eq!(texts(&log), OOPS);
    let text: String = OOPS
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{},{},{},-;{l}\n SUBSYSTEM=x\n", i % 8, 100 + i, i * 1000))
        .collect();
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.form, Form::Kmsg);
    assert_eq!(log.records[2].seq, 102);
    assert_eq!(log.records[2].timestamp_ns, 2_000_000);
    assert_eq!(texts(&log), OOPS);
    the_oops(&log);
}

#[test]
fn a_serial_console() {
    let mut text = String::from(
        "\x1b[0m\x1b[2J\rSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\nBooting from Hard Disk...\r\n",
    );
    for (i, l) in OOPS.iter().enumerate() {
        text += &format!("[{:>5}.{:06}] {l}\r\n", i, 0);
        match i {
            2 => text += "[  \x1b[0;32mOK\x1b[0m  ] Started systemd-journald.service.\r\n",
            3 => text += "Debian GNU/Linux 12 vm ttyS0\r\n\r\nvm login: ",
            _ => {}
        }
    }
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.form, Form::Console);
    assert_eq!(texts(&log), OOPS, "the login prompt ends no kernel line");
    assert_eq!(
        log.skipped, 5,
        "the login prompt's line is kept from its stamp on"
    );
    the_oops(&log);
}

#[test]
fn two_cpus_interleaved_keep_their_order() {
    let text =
        "[   10.000001] CPU 0 line a\n[   10.000000] CPU 1 line b\n[   10.000002] CPU 0 line c\n";
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(
        texts(&log),
        ["CPU 0 line a", "CPU 1 line b", "CPU 0 line c"]
    );
    assert_eq!(log.records[1].timestamp_ns, 10_000_000_000);
}

#[test]
fn cut_in_the_middle_of_a_report() {
    let text = stamped(&OOPS[..15]);
    let text = &text[..text.len() - 7];
    let log = read(text.as_bytes()).unwrap();
    assert!(log.cut);
    let reports = parse_log(&log.records);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].site().as_deref(), Some("null_reader [vmt_scen]"));
}

#[test]
fn crlf_and_bytes_that_are_not_utf8() {
    let mut text = stamped(OOPS).replace('\n', "\r\n").into_bytes();
    text.extend_from_slice(b"[    9.000000] name \xff\xfe here\r\n");
    let log = read(&text).unwrap();
    assert_eq!(log.records.len(), OOPS.len() + 1);
    assert_eq!(log.records[0].text, OOPS[0]);
    assert_eq!(
        log.records.last().unwrap().text,
        "name \u{fffd}\u{fffd} here"
    );
    the_oops(&log);
}

#[test]
fn no_empty_file_binary_or_compressed_file_is_a_log() {
    assert_eq!(read(b"").unwrap_err().found, "the file is empty");
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0);
    assert_eq!(read(&elf).unwrap_err().found, "an ELF file");
    for (magic, what) in [
        (&b"KDUMP   "[..], "a kdump-compressed dump"),
        (b"makedumpfile\0\0\0\0", "a makedumpfile flattened dump"),
        (b"\x1f\x8b\x08\0", "a gzip file"),
        (b"\xfd7zXZ\0\0", "an xz file"),
        (b"\x28\xb5\x2f\xfd", "a zstd file"),
    ] {
        let mut b = magic.to_vec();
        b.extend(stamped(OOPS).bytes());
        assert_eq!(read(&b).unwrap_err().found, what);
    }
    // Random bytes (a fixed LCG): refused as binary, whatever the seed.
    for seed in 0..50u64 {
        let mut x = seed;
        let b: Vec<u8> = (0..8192)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        let e = read(&b).unwrap_err();
        assert!(e.found.starts_with("binary data"), "{e}");
    }
    let zeros = vec![0u8; 1 << 16];
    assert!(read(&zeros).unwrap_err().found.starts_with("binary data"));
}

#[test]
fn a_log_with_a_few_nuls_is_still_a_log() {
    let mut b = b"\0\0".to_vec();
    b.extend(stamped(OOPS).bytes());
    b.extend(b"[    9.000000] a \0 b\n");
    let log = read(&b).unwrap();
    assert_eq!(log.records.len(), OOPS.len() + 1);
    the_oops(&log);
}

#[test]
fn text_that_is_no_kernel_log() {
    let readme = include_str!("../../../../README.md");
    let e = read(readme.as_bytes()).unwrap_err();
    assert!(e.found.starts_with("text with"), "{e}");
    let csv = "host,date,title\nweb-7,2026-11-24,BUG: soft lockup\nweb-8,2026-11-25,Oops\n";
    let e = read(csv.as_bytes()).unwrap_err();
    assert!(e.found.starts_with("text with no kernel log line"), "{e}");
    // A markdown note quoting an oops is no log either.
    let note = format!("# What happened\n\n```\n{}\n```\n", OOPS.join("\n"));
    assert!(read(note.as_bytes()).is_err());
    // Nor are other programs' syslog lines without the kernel's.
    let syslog = "Nov 24 10:00:00 h sshd[1]: a\nNov 24 10:00:01 h cron[2]: b\n";
    assert!(read(syslog.as_bytes()).is_err());
    assert_eq!(
        read(b"just one line").unwrap_err().to_string(),
        "not a kernel log: text with no kernel log line (no `[ time]` stamp, `<N>` level, `kernel:` syslog line, or kernel banner and report lines)"
    );
}

#[test]
fn a_line_of_ten_megabytes() {
    let t0 = std::time::Instant::now();
    let long = vec![b'a'; 10 << 20];
    assert!(read(&long).is_err());
    let mut b = stamped(OOPS).into_bytes();
    b.extend(b"[   99.000000] ");
    b.extend(&long);
    b.push(b'\n');
    let log = read(&b).unwrap();
    assert_eq!(log.long_lines, 1);
    assert_eq!(log.records.last().unwrap().text.len(), MAX_LINE - 15);
    the_oops(&log);
    assert!(t0.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn the_newest_records_are_kept() {
    let mut text = String::new();
    for i in 0..(MAX_RECORDS + 10) {
        text += &format!("<6>{i}\n");
    }
    let log = read(text.as_bytes()).unwrap();
    assert_eq!(log.records.len(), MAX_RECORDS);
    assert!(log.dropped_head);
    assert_eq!(log.records[0].text, "10");
}

#[test]
fn damaged_logs_never_panic() {
    let good = stamped(OOPS).into_bytes();
    let mut x = 7u64;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    for _ in 0..3000 {
        let mut b = good.clone();
        let cut = next() % b.len();
        b.truncate(cut.max(1));
        for _ in 0..next() % 8 {
            let i = next() % b.len();
            b[i] = (next() & 0xff) as u8;
        }
        if let Ok(log) = read(&b) {
            let _ = parse_log(&log.records);
        }
        let _ = recognise(&b);
    }
}
