//! Loads the configuration once and dispatches each command.

use crate::cli::{Cli, Command, ConfigAction, NotifyAction};
use crate::config::{self, Config, Loaded, Source};
use crate::exit::Result;
use crate::fail;
use crate::paths::Paths;

/// What every command works with: the root's paths and the checked config.
pub struct Ctx {
    pub paths: Paths,
    pub loaded: Loaded,
    pub config: Config,
}

impl Ctx {
    pub fn load(cli: &Cli) -> Result<Ctx> {
        let paths = Paths::resolve(cli.root.as_deref())?;
        let named = cli.config.as_deref().map(crate::paths::absolute);
        let loaded = config::load(&paths.default_config(), named.as_deref(), &|n| std::env::var(n).ok())?;
        crate::secret::register(loaded.config.secrets());
        let config = loaded.config.clone();
        Ok(Ctx { paths, loaded, config })
    }
}

pub fn run(cli: Cli) -> Result<u8> {
    let json = matches!(&cli.command, Command::Heartbeat(a) | Command::Daily(a) if a.json);
    crate::log::to_stderr(json);
    let ctx = Ctx::load(&cli)?;
    match cli.command {
        Command::Heartbeat(args) => crate::heartbeat::run(&ctx.paths, &ctx.loaded, args),
        Command::Daily(args) => crate::daily::run(&ctx.paths, &ctx.loaded, args),
        Command::Enable(args) => crate::launchd::agents::enable(&ctx, &args),
        Command::Disable(args) => crate::launchd::agents::disable(&ctx, &args),
        Command::Status(args) => crate::launchd::agents::status(&ctx, &args),
        Command::Plist { agent } => crate::launchd::agents::print_plist(&ctx, agent),
        Command::Config { action } => config_command(&ctx, action),
        Command::Notify { action: NotifyAction::Test { channel, json } } => {
            crate::commands::notify_test::run(&ctx.paths, &ctx.config, channel.as_deref(), json)
        }
    }
}

fn config_command(ctx: &Ctx, action: ConfigAction) -> Result<u8> {
    let source = match &ctx.loaded.source {
        Source::Defaults(p) => format!("no config file at {}; using the defaults", p.display()),
        Source::File { path, .. } => format!("{}", path.display()),
    };
    let overrides = if ctx.loaded.overrides.is_empty() {
        String::new()
    } else {
        format!(" (overridden by {})", ctx.loaded.overrides.join(", "))
    };
    match action {
        ConfigAction::Check => {
            println!("✅ configuration is valid: {source}{overrides}");
            Ok(0)
        }
        ConfigAction::Show => {
            let text =
                toml::to_string(&ctx.config.redacted()).map_err(|e| fail!("could not print the configuration: {e}"))?;
            println!("# effective configuration: {source}{overrides}\n# secrets are shown as ***\n");
            print!("{}", crate::secret::scrub(&text));
            Ok(0)
        }
    }
}
