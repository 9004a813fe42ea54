//! Parses the program given as the first argument (or stdin) and prints the
//! syntax tree or the rendered errors.
use std::io::Read;

fn main() {
    let src = match std::env::args().nth(1) {
        Some(s) => s,
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).unwrap();
            s
        }
    };
    match vmtriage_dsl::parse_program(&src) {
        Ok(p) => println!("{p:#?}"),
        Err(errors) => {
            for d in errors {
                print!("{}", d.render(&src));
            }
            std::process::exit(1);
        }
    }
}
