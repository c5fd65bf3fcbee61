//! Checks files against the course's policy and prints the verdicts:
//! `cargo run -p boundary --example check_file -- FILE...`.
//! Exits with 1 if any file is refused.

fn main() {
    let policy = boundary::course_policy();
    let mut refused = false;
    for path in std::env::args().skip(1) {
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        };
        let verdict = boundary::check(&path, &source, &policy);
        refused |= !verdict.is_accepted();
        print!("{verdict}");
    }
    std::process::exit(i32::from(refused));
}
