//! Memory of `moose dev` under hostile input and hostile guests (`moose_tests::hostile`):
//! for each case, the host's resident memory before it, at its peak and 3 s after it.
//! `MOOSE_BIN=<other moose>` measures another build (e.g. an older one) the same way.
//!
//! Run: `cargo run --release -p moose-bench --bin hostile`

use moose_tests::hostile::{self, APP, CONFIG, LANGUAGES};
use moose_tests::memory::mib;
use moose_tests::{built_guest, DevHost};

fn main() -> anyhow::Result<()> {
    moose_bench::release_moose()?;
    for (_, dir) in LANGUAGES {
        built_guest(&format!("{APP}/{dir}"));
    }
    let host = DevHost::start_with(APP, CONFIG);
    println!("| case | before | peak | settled | finished |");
    println!("|---|---|---|---|---|");
    for case in hostile::cases() {
        let m = hostile::measure(&host, &case);
        println!(
            "| {} | {} | {} | {} | {} |",
            m.name,
            mib(m.before),
            mib(m.peak),
            mib(m.settled),
            if m.seen.finished { "yes" } else { "no" }
        );
    }
    host.stop();
    Ok(())
}
