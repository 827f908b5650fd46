//! The `bbb-migrate` binary; everything is in the `migrate-cli` library.

fn main() -> std::process::ExitCode {
    migrate_cli::main()
}
