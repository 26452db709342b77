//! `enable`, `disable`, `status` and `plist` (SPEC §9).

use crate::app::Ctx;
use crate::cli::{Agent, DisableArgs, EnableArgs, StatusArgs};
use crate::exit::Result;
use crate::fail;

pub fn enable(_ctx: &Ctx, _args: &EnableArgs) -> Result<u8> {
    Err(fail!("`ops-atomic enable` is not implemented yet"))
}

pub fn disable(_ctx: &Ctx, _args: &DisableArgs) -> Result<u8> {
    Err(fail!("`ops-atomic disable` is not implemented yet"))
}

pub fn status(_ctx: &Ctx, _args: &StatusArgs) -> Result<u8> {
    Err(fail!("`ops-atomic status` is not implemented yet"))
}

pub fn print_plist(_ctx: &Ctx, _agent: Agent) -> Result<u8> {
    Err(fail!("`ops-atomic plist` is not implemented yet"))
}
