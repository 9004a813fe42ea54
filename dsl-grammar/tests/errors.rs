//! Syntax errors: codes, messages and exact spans, then a snapshot of how
//! they render.

use vmtriage_dsl::ast::Span;
use vmtriage_dsl::{parse_expr, parse_program, Diagnostic, CODES};

/// The first diagnostic for a program that must fail.
#[track_caller]
fn err(src: &str) -> Diagnostic {
    match parse_program(src) {
        Ok(p) => panic!("{src:?} parsed: {}", p.to_sexpr()),
        Err(d) => {
            for x in &d {
                assert!(x.help.is_some(), "no help: {x:?}");
                assert!(CODES.iter().any(|c| c.0 == x.code && c.1 == x.title));
            }
            d.into_iter().next().unwrap()
        }
    }
}

#[track_caller]
fn check(src: &str, code: &str, message: &str, span: (usize, usize)) -> Diagnostic {
    let d = err(src);
    assert_eq!(
        (d.code, d.message.as_str(), d.span),
        (code, message, Span::new(span.0, span.1)),
        "{}",
        d.render(src)
    );
    d
}

#[test]
fn missing_operand() {
    let d = check(
        "a and",
        "E001",
        "expected an expression after `and`",
        (5, 5),
    );
    assert_eq!(
        d.labels,
        vec![(Span::new(2, 5), "`and` needs an operand".to_string())]
    );
    check(
        "a ==\n",
        "E001",
        "expected an expression after `==`",
        (5, 5),
    );
    check("not", "E001", "expected an expression after `not`", (3, 3));
    check(
        "x in )",
        "E006",
        "unexpected `)`: no `(` is open here",
        (5, 6),
    );
    check(
        "a + * b",
        "E001",
        "expected an expression after `+`",
        (4, 5),
    );
    check(
        "a has",
        "E001",
        "expected an expression after `has`",
        (5, 5),
    );
    check("f(,)", "E001", "expected an expression, found `,`", (2, 3));
}

#[test]
fn where_needs_a_condition() {
    let d = check("tasks where", "E001", "`where` needs a condition", (11, 11));
    assert_eq!(d.labels[0].0, Span::new(6, 11));
    // A pitfall: line breaks do not end a `where`, so the next line is
    // taken as its condition, and the program has none.
    check(
        "for t in tasks where\nt.pid > 0",
        "E001",
        "expected the rule's condition after the last statement",
        (30, 30),
    );
    check(
        "xs where a where",
        "E001",
        "`where` needs a condition",
        (16, 16),
    );
    check(
        "any of xs where )",
        "E006",
        "unexpected `)`: no `(` is open here",
        (16, 17),
    );
    check(
        "count(xs where)",
        "E001",
        "`where` needs a condition",
        (14, 15),
    );
    check(
        "group xs by k having",
        "E001",
        "`having` needs a condition",
        (20, 20),
    );
}

#[test]
fn unclosed_and_unexpected_brackets() {
    let d = check("count(x", "E005", "unclosed `(`", (5, 6));
    assert_eq!(
        d.labels,
        vec![(Span::new(7, 7), "expected `)` before the end".to_string())]
    );
    check("[1, 2", "E005", "unclosed `[`", (0, 1));
    check("f(a, g(b)", "E005", "unclosed `(`", (1, 2));
    check(
        "(a or b))",
        "E006",
        "unexpected `)`: no `(` is open here",
        (8, 9),
    );
    let d = check(
        "(a]",
        "E006",
        "mismatched `]`: the open bracket is `(`",
        (2, 3),
    );
    assert_eq!(d.labels[0].0, Span::new(0, 1));
    // Brackets inside strings and comments do not count.
    assert!(parse_program("f(\"(\") # (\n").is_ok());
    let d = check(
        "f(a b)",
        "E001",
        "expected `)`, `,` or an operator, found `b`",
        (4, 5),
    );
    assert_eq!(
        d.labels,
        vec![(Span::new(1, 2), "inside this `(`".to_string())]
    );
}

#[test]
fn strings() {
    let d = check("x == \"abc", "E003", "unterminated string", (5, 6));
    assert_eq!(d.labels[0].0, Span::new(5, 9));
    check("x == \"abc\ny\"", "E003", "unterminated string", (5, 6));
    check("\"a\\\"", "E003", "unterminated string", (0, 1));
    let d = check("\"abc\\q\"", "E004", "unknown escape `\\q`", (4, 6));
    assert!(d.help.unwrap().contains("\"\\\\q\""));
    // Every bad escape is reported.
    let all = parse_program("[\"\\d\", \"\\é\"]").unwrap_err();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].message, "unknown escape `\\é`");
    assert_eq!(all[1].span, Span::new(8, 11));
    check("'D'", "E001", "expected an expression, found `'`", (0, 1));
}

#[test]
fn reserved_words() {
    check(
        "let group = 1\nx",
        "E002",
        "a reserved word `group` cannot be a name",
        (4, 9),
    );
    check(
        "for in in tasks\nx",
        "E002",
        "a reserved word `in` cannot be a name",
        (4, 6),
    );
    check(
        "tasks where by == 1",
        "E002",
        "a reserved word `by` cannot be a name",
        (12, 14),
    );
    check(
        "group xs by k as desc",
        "E002",
        "a reserved word `desc` cannot be a name",
        (17, 21),
    );
    check(
        "count(having)",
        "E002",
        "a reserved word `having` cannot be a name",
        (6, 12),
    );
    // A reserved word followed by more words is a missing operand instead.
    check(
        "top of tasks by x",
        "E001",
        "expected an expression after `top`",
        (4, 6),
    );
}

#[test]
fn numbers() {
    check("123456789012345678901", "E007", "number too large", (0, 21));
    check(
        "x > 0x1_0000_0000_0000_0000",
        "E007",
        "number too large",
        (4, 27),
    );
    check("1e999", "E007", "number too large", (0, 5));
    check("1abc", "E007", "invalid number `1abc`", (0, 4));
    check("0x", "E007", "invalid number `0x`", (0, 2));
    check("1__0", "E007", "invalid number `1__0`", (0, 4));
    check("1e+", "E007", "invalid number `1e`", (0, 2));
}

#[test]
fn quantifiers_and_keyed_forms() {
    let d = check("all of xs", "E008", "`all of` needs `where COND`", (0, 9));
    assert!(d.help.unwrap().contains("any of xs"));
    check("any xs", "E001", "expected `of`, found `xs`", (4, 6));
    check(
        "group tasks",
        "E001",
        "expected `by` or an operator, found end of input",
        (11, 11),
    );
    check("sort xs by", "E001", "expected a key after `by`", (10, 10));
    check("any of", "E001", "expected a collection after `of`", (6, 6));
}

#[test]
fn chained_comparisons() {
    let d = check(
        "a < b < c",
        "E009",
        "comparison operators cannot be chained: `<` follows another comparison",
        (6, 7),
    );
    assert_eq!(d.labels[0].0, Span::new(0, 5));
    check(
        "x == 1 in xs",
        "E009",
        "comparison operators cannot be chained: `in` follows another comparison",
        (7, 9),
    );
    check(
        "s has \"a\" == true",
        "E009",
        "comparison operators cannot be chained: `==` follows another comparison",
        (10, 12),
    );
    assert!(parse_program("(a < b) == c").is_ok());
}

#[test]
fn statements() {
    let d = check(
        "let x = 1",
        "E001",
        "expected the rule's condition after the last statement",
        (9, 9),
    );
    assert_eq!(d.labels[0].0, Span::new(8, 9));
    check(
        "for x tasks\nx",
        "E001",
        "expected `in`, found `tasks`",
        (6, 11),
    );
    check("let x == 1\nx", "E001", "expected `=`, found `==`", (6, 8));
    check("let 1 = 2\nx", "E001", "expected a name, found `1`", (4, 5));
    check(
        "a\nlet x = 1",
        "E001",
        "a `let` statement cannot follow the condition",
        (2, 5),
    );
    check(
        "a b",
        "E001",
        "expected an operator or end of input, found `b`",
        (2, 3),
    );
    check(
        "",
        "E001",
        "expected an expression, found end of input",
        (0, 0),
    );
    check(
        "  # nothing\n",
        "E001",
        "expected an expression, found end of input",
        (12, 12),
    );
    assert!(parse_expr("let x = 1\nx").is_err());
}

#[test]
fn slips_from_other_languages() {
    let help = |src: &str| err(src).help.unwrap();
    assert_eq!(help("a && b"), "write `and` instead of `&&`");
    assert_eq!(help("a || b"), "write `or` instead of `||`");
    assert_eq!(help("!a"), "write `not` instead of `!`");
    assert_eq!(
        help("x = 1"),
        "compare with `==`; `=` only appears in `let NAME = EXPR`"
    );
    assert!(help("count (x)").contains("without a space"));
    assert!(help("xs [0]").contains("without a space"));
    assert!(help("a ? b").contains("`?.`"));
    check("x.", "E001", "expected a name, found end of input", (2, 2));
    check("@", "E001", "expected a name, found end of input", (1, 1));
}

#[test]
fn several_errors_are_reported_in_order() {
    let all =
        parse_program("f(123456789012345678901, all of xs, 99999999999999999999)").unwrap_err();
    let codes: Vec<_> = all.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E007", "E008", "E007"]);
}

#[test]
fn pathological_input() {
    // 10 000 nested parentheses: an error, not a stack overflow.
    let src = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let d = err(&src);
    assert_eq!((d.code, d.span), ("E010", Span::new(64, 65)));
    // Without the closers as well.
    assert_eq!(err(&"(".repeat(10_000)).code, "E010");
    // Deep nesting without brackets.
    let d = err(&format!("{}a", "not ".repeat(10_000)));
    assert_eq!(d.code, "E010");
    let d = err(&format!("{}a", "any of ".repeat(9_000)));
    assert_eq!(d.code, "E010");
    let d = err(&format!("{}a", "- ".repeat(10_000)));
    assert_eq!(d.code, "E010");
    let d = err(&format!("x{}", ".a".repeat(10_000)));
    assert_eq!(d.code, "E010");
    let d = err(&format!(
        "{}a{}",
        "group ".repeat(3_000),
        " by k".repeat(3_000)
    ));
    assert_eq!(d.code, "E010");
    let d = err(&format!("{}a{}", "f(".repeat(65), ")".repeat(65)));
    assert_eq!(d.code, "E010");
    // 65 levels of `any of` without brackets: the builder's limit.
    let d = err(&format!("{}a", "any of ".repeat(65)));
    assert_eq!(d.code, "E010");
    assert!(parse_program(&format!("{}a", "any of ".repeat(30))).is_ok());
}

#[test]
fn long_input_is_quick() {
    let start = std::time::Instant::now();
    // 1 MB of `a or a or …`: refused at once.
    let src = format!("{}a", "a or ".repeat(200_000));
    let d = err(&src);
    assert_eq!(d.code, "E011");
    // Just under the size limit: a chain too long for the tree depth limit.
    let src = format!("{}a", "a or ".repeat(13_000));
    let d = err(&src);
    assert_eq!(d.code, "E010");
    assert_eq!(
        d.message,
        "the expression is too long: its syntax tree is more than 256 levels deep"
    );
    // A long but shallow program parses.
    let src = "let x = f(a, b) where c or d\n".repeat(1_500) + "x";
    let p = parse_program(&src).unwrap();
    assert_eq!(p.stmts.len(), 1_500);
    let src = format!("[{}1]", "1, ".repeat(15_000));
    assert!(parse_expr(&src).is_ok());
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
}

/// Rendered errors, for review: one snapshot for all.
#[test]
fn rendered() {
    let cases = [
        "a and",
        "tasks where",
        "count(dying",
        "stack has regex \"^queued_\\d+\"",
        "let group = tasks where state == \"D\"\ncount(group) > 0",
        "all of parent.children",
        "x == \"abc",
        "addr == 0x1_0000_0000_0000_0000",
        "a < b < c",
        "(]",
        "let dying = tasks where exiting",
        "for t tasks\nt.pid == 1",
        "f(a b)",
        "a && b",
        "count (x) > 1",
        "sort tasks desc",
        "for p in tasks\nlet n = count(p.children\n  where exiting)\n  n > 3 b",
        "tasks where state == 'D'",
        "a\nlet x = 1",
        "",
    ];
    let mut out = String::new();
    for src in cases {
        out.push_str(&format!("=== {src:?}\n"));
        for d in parse_program(src).unwrap_err() {
            out.push_str(&d.render(src));
        }
        out.push('\n');
    }
    insta::assert_snapshot!(out);
}

#[test]
fn non_ascii_outside_strings() {
    let d = check(
        "tâche",
        "E001",
        "expected an operator or end of input, found `â`",
        (1, 3),
    );
    assert!(d.help.unwrap().starts_with("names are ASCII"));
    assert!(parse_program("comm == \"tâche\"").is_ok());
}
