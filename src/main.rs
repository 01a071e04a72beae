//! `parity`: parse the command line, run it, map the outcome to an exit code.

mod cli;
mod commands;
mod progress;

fn main() {
    std::process::exit(cli::main());
}
