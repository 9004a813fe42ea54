//! `vmtriage rules export --html DIR`: the rule pack as a static, self-contained
//! knowledge-base site (no scripts, no fonts, no network fetches).

use std::collections::BTreeMap;
use std::path::Path;

use vmtriage_rules::rule::Rule;
use vmtriage_rules::RulePack;

const CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2430}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde}\
code,pre{font:13px/1.4 ui-monospace,monospace;background:#f3f4f7}pre{padding:.8rem;overflow:auto;border-radius:4px}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e4e6eb;padding:.3rem .5rem;text-align:left;vertical-align:top}\
.sev{display:inline-block;padding:0 .5rem;border-radius:3px;color:#fff;font-size:12px;text-transform:uppercase}\
.critical{background:#a4161a}.high{background:#d9480f}.medium{background:#e8a317}.low{background:#2b8a3e}.info{background:#5c677d}\
a{color:#1c5bbd;text-decoration:none}nav{margin-bottom:1rem}td:first-child{white-space:nowrap}";

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Inline markdown: `code`, **bold**, [text](url).
fn inline(s: &str) -> String {
    let mut out = String::new();
    let e = escape(s);
    let mut rest = e.as_str();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('`') {
            if let Some(end) = r.find('`') {
                out += &format!("<code>{}</code>", &r[..end]);
                rest = &r[end + 1..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix("**") {
            if let Some(end) = r.find("**") {
                out += &format!("<strong>{}</strong>", &r[..end]);
                rest = &r[end + 2..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The small markdown subset rule articles use: paragraphs, lists, inline code/bold.
pub fn markdown(md: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let mut list = false;
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if !para.is_empty() {
            *out += &format!("<p>{}</p>\n", inline(&para.join(" ")));
            para.clear();
        }
    };
    for line in md.lines() {
        let t = line.trim();
        if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            flush(&mut para, &mut out);
            if !list {
                out += "<ul>\n";
                list = true;
            }
            out += &format!("<li>{}</li>\n", inline(item));
        } else if t.is_empty() {
            flush(&mut para, &mut out);
            if list {
                out += "</ul>\n";
                list = false;
            }
        } else if list && line.starts_with("  ") {
            // continuation of a list item
            if let Some(pos) = out.rfind("</li>") {
                out.replace_range(pos..pos, &format!(" {}", inline(t)));
            }
        } else {
            if list {
                out += "</ul>\n";
                list = false;
            }
            para.push(t);
        }
    }
    flush(&mut para, &mut out);
    if list {
        out += "</ul>\n";
    }
    out
}

fn subsystem(r: &Rule) -> String {
    // rules/<subsystem>/<file>.yaml
    let parts: Vec<&str> = r.file.split('/').collect();
    parts
        .len()
        .checked_sub(2)
        .and_then(|i| parts.get(i))
        .filter(|p| **p != "rules")
        .map(|s| s.to_string())
        .unwrap_or_else(|| r.doc.id.split('-').next().unwrap_or("other").to_lowercase())
}

fn page(title: &str, body: &str) -> String {
    format!("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head>\n<body>\n{body}</body></html>\n", escape(title))
}

fn link(s: &str) -> String {
    if s.starts_with("https://") || s.starts_with("http://") {
        format!("<a href=\"{0}\">{0}</a>", escape(s))
    } else {
        inline(s)
    }
}

pub fn rule_page(r: &Rule) -> String {
    let d = &r.doc;
    let sev = d.severity.as_str();
    let mut b = format!(
        "<nav><a href=\"index.html\">← all rules</a></nav>\n<h1>{} — {}</h1>\n",
        escape(&d.id),
        escape(&d.title)
    );
    b += &format!(
        "<p><span class=\"sev {sev}\">{sev}</span> &nbsp;needs: {} &nbsp;kernels: {} &nbsp;tags: {}</p>\n",
        r.need.as_str(),
        escape(d.applies_to.kernels.as_deref().unwrap_or("all")),
        escape(&d.tags.join(", "))
    );
    b += &format!("<p><strong>{}</strong></p>\n", inline(d.summary.trim()));
    b += &markdown(&d.description);
    b += &format!(
        "<h2>Detection</h2>\n<pre>{}</pre>\n",
        escape(d.match_expr.trim_end())
    );
    if !d.params.is_empty() {
        b += "<h2>Parameters</h2>\n<table><tr><th>name</th><th>default</th><th>meaning</th></tr>\n";
        for (n, p) in &d.params {
            b += &format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
                escape(n),
                escape(&serde_json::to_string(&p.default).unwrap_or_default()),
                inline(&p.help)
            );
        }
        b += "</table>\n";
    }
    if !d.remediation.is_empty() {
        b += &format!("<h2>Remediation</h2>\n{}", markdown(&d.remediation));
    }
    if !d.references.is_empty() {
        b += "<h2>References</h2>\n<ul>\n";
        for x in &d.references {
            b += &format!("<li>{}</li>\n", link(x));
        }
        b += "</ul>\n";
    }
    b += "<h2>Tested on the corpus</h2>\n<table>";
    b += &format!(
        "<tr><th>fires on</th><td>{}</td></tr>",
        escape(&d.tests.fires_on.join(", "))
    );
    b += &format!(
        "<tr><th>silent on</th><td>{}</td></tr></table>\n",
        escape(&d.tests.silent_on.join(", "))
    );
    page(&format!("{} — {}", d.id, d.title), &b)
}

pub fn index_page(pack: &RulePack) -> String {
    let mut by_sub: BTreeMap<String, Vec<&Rule>> = BTreeMap::new();
    for r in &pack.rules {
        by_sub.entry(subsystem(r)).or_default().push(r);
    }
    let mut b = format!("<h1>vmtriage knowledge base</h1>\n<p>{} rules. Each is a detector for kernel crash dumps and an article.</p>\n", pack.rules.len());
    b += "<h2>By severity</h2>\n<p>";
    for sev in ["critical", "high", "medium", "low", "info"] {
        let n = pack
            .rules
            .iter()
            .filter(|r| r.doc.severity.as_str() == sev)
            .count();
        b += &format!("<span class=\"sev {sev}\">{sev}</span> {n} &nbsp; ");
    }
    b += "</p>\n";
    for (sub, rules) in &by_sub {
        b += &format!("<h2>{}</h2>\n<table>\n", escape(sub));
        let mut rules = rules.clone();
        rules.sort_by(|a, b| {
            b.doc
                .severity
                .cmp(&a.doc.severity)
                .then(a.doc.id.cmp(&b.doc.id))
        });
        for r in rules {
            let sev = r.doc.severity.as_str();
            b += &format!("<tr><td><a href=\"{id}.html\">{id}</a></td><td><span class=\"sev {sev}\">{sev}</span></td><td>{}</td><td>{}</td><td>needs {}</td></tr>\n",
                escape(&r.doc.title), inline(r.doc.summary.trim()), r.need.as_str(), id = escape(&r.doc.id));
        }
        b += "</table>\n";
    }
    b += &model_section();
    page("vmtriage knowledge base", &b)
}

/// What rules can query, from the built-ins' declarations (as `vmtriage
/// schema` prints it).
fn model_section() -> String {
    use vmtriage_rules::builtins;
    // What reading it needs (a log, a dump), as its declaration says.
    let row = |name: &str, ty: String, need: Option<vmtriage_rules::Need>, doc: &str| {
        format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
            escape(name),
            escape(&ty),
            need.map(|n| n.as_str()).unwrap_or_default(),
            inline(doc)
        )
    };
    let mut b = String::from("<h2>The object model</h2>\n<p>What a rule's <code>match:</code> can name (<code>vmtriage schema</code>), and what reading it needs: <code>nothing</code> (the values at hand), <code>log</code> (a kernel log is enough) or <code>dump</code> (the kernel's memory). A rule needs the most any of its reads needs.</p>\n<h3>Roots</h3>\n<table>\n");
    for r in builtins::roots() {
        b += &row(r.name, r.ty.to_string(), Some(r.needs), r.doc);
    }
    b += "</table>\n";
    for t in builtins::types() {
        b += &format!(
            "<h3>{}</h3>\n<p>{}</p>\n<table>\n",
            escape(t.name),
            inline(t.doc)
        );
        for f in t.fields {
            b += &row(f.name, f.ty.to_string(), Some(t.field_needs(f)), f.doc);
        }
        b += "</table>\n";
    }
    b += "<h3>Functions</h3>\n<table>\n";
    for f in builtins::functions() {
        b += &row(f.name, f.signatures().join(" | "), Some(f.needs), f.doc);
    }
    b += "</table>\n";
    b += "<h3>Operators</h3>\n<table>\n";
    for o in builtins::operators::OPERATORS {
        for ov in o.overloads {
            b += &row(o.op.symbol(), ov.signature(o.op), None, ov.doc);
        }
    }
    b += "</table>\n";
    b
}

pub fn export_html(pack: &RulePack, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("index.html"), index_page(pack))?;
    for r in &pack.rules {
        std::fs::write(dir.join(format!("{}.html", r.doc.id)), rule_page(r))?;
    }
    Ok(pack.rules.len() + 1)
}
