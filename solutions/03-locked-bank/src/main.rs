//! The program `cargo grade` runs: the course's scenario driver around the
//! functions in `lib.rs`. Not part of the exercise: your code goes in
//! `lib.rs`.

use locked_bank_solution as student;

fn main() -> std::process::ExitCode {
    scenarios::locked_bank::main(student::deposit, student::withdraw)
}
