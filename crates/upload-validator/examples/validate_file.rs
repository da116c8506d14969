//! Validates one file natively and prints the report's summary and the throughput:
//! `cargo run --release -p upload-validator --example validate_file -- KIND FILE [--records]`.

use std::io::Read as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, kind, path, rest @ ..] = args.as_slice() else {
        eprintln!("usage: validate_file KIND FILE [--records]");
        std::process::exit(2);
    };
    let kind = upload_validator::PayloadKind::from_name(kind).expect("a known payload kind");
    let mut validator = upload_validator::Validator::new(kind, upload_validator::Context::default()).expect("context");
    let records = std::rc::Rc::new(std::cell::Cell::new(0u64));
    if rest.iter().any(|a| a == "--records") {
        let count = records.clone();
        validator = validator.on_record(move |_| count.set(count.get() + 1));
    }
    let mut file = std::fs::File::open(path).expect("readable file");
    let mut buffer = vec![0; 256 * 1024];
    let started = std::time::Instant::now();
    loop {
        let n = file.read(&mut buffer).expect("read");
        if n == 0 {
            break;
        }
        validator.push(&buffer[..n]);
    }
    let report = validator.finish();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} records, {} errors, {} typed records, {:.1} MB/s ({seconds:.2} s)",
        report.records,
        report.errors,
        records.get(),
        report.bytes as f64 / seconds / 1e6
    );
}
