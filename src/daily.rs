//! `ops-atomic daily`: the phased smoke suite and housekeeping (SPEC §8).

use crate::app::Ctx;
use crate::cli::RunArgs;
use crate::exit::Result;
use crate::fail;

pub fn run(_ctx: &Ctx, _args: RunArgs) -> Result<u8> {
    Err(fail!("`ops-atomic daily` is not implemented yet"))
}
