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
}

impl Ctx {
    pub fn load(cli: &Cli) -> Result<Ctx> {
        let paths = Paths::resolve(cli.root.as_deref())?;
        let named = cli.config.as_deref().map(crate::paths::absolute);
        let loaded = config::load(&paths.default_config(), named.as_deref(), &|n| std::env::var(n).ok())?;
        crate::secret::register(loaded.config.secrets());
        Ok(Ctx { paths, loaded })
    }
}

pub fn run(cli: Cli) -> Result<u8> {
    let json = matches!(&cli.command, Command::Heartbeat(a) | Command::Daily(a) if a.json);
    crate::log::to_stderr(json);
    // These need no config: `init` must work when the file is broken (to
    // replace it with --force), completions and man when there is no root.
    match &cli.command {
        Command::Completions { shell } => return crate::commands::shell::completions(*shell),
        Command::Man => return crate::commands::shell::man(),
        Command::Init(args) => return init(&cli, args),
        // A job runs even when the config is broken (it says so on stderr).
        Command::Run(a) => {
            return crate::commands::run::run(&crate::commands::run::Args {
                root: cli.root.as_deref(),
                config: cli.config.as_deref(),
                name: &a.name,
                timeout: a.timeout,
                command: &a.command,
            });
        }
        Command::Fleet { what } => return crate::commands::fleet::run(&Paths::resolve(cli.root.as_deref())?, *what),
        _ => {}
    }
    if let Command::Menubar(a) = &cli.command {
        let format = a.format.unwrap_or_else(crate::menubar::App::from_env);
        if a.script {
            let paths = Paths::resolve(cli.root.as_deref())?;
            let config = cli.config.as_deref().map(crate::paths::absolute);
            return crate::menubar::plugin::print(&paths, config.as_deref(), format);
        }
        // A menu that runs every minute must say what is wrong, not vanish:
        // a broken config falls back to the defaults, and the menu says so.
        return match Ctx::load(&cli) {
            Ok(ctx) => crate::menubar::run(&ctx.paths, &ctx.loaded, None, format),
            Err(e) => {
                let (paths, loaded) = defaults_standing_in(&cli)?;
                crate::menubar::run(&paths, &loaded, Some(&e.0), format)
            }
        };
    }
    if let Command::Status(args) = &cli.command {
        // A broken config file does not stop `status`: the defaults stand in, and it says so.
        return match Ctx::load(&cli) {
            Ok(ctx) => crate::launchd::status::run(&ctx.paths, &ctx.loaded, None, args),
            Err(e) => {
                let (paths, loaded) = defaults_standing_in(&cli)?;
                crate::launchd::status::run(&paths, &loaded, Some(&e.0), args)
            }
        };
    }
    let ctx = Ctx::load(&cli)?;
    match cli.command {
        Command::Heartbeat(args) => crate::heartbeat::run(&ctx.paths, &ctx.loaded, args),
        Command::Daily(args) => crate::daily::run(&ctx.paths, &ctx.loaded, args),
        Command::Enable(args) if args.which == crate::cli::Which::Menubar => crate::menubar::plugin::enable(
            &ctx.paths,
            ctx.loaded.named_file(),
            &plugin_options(&args.plugin, args.dry_run, args.force),
        ),
        Command::Disable(args) if args.which == crate::cli::Which::Menubar => {
            crate::menubar::plugin::disable(&ctx.paths, &plugin_options(&args.plugin, false, false))
        }
        Command::Enable(args) => crate::launchd::agents::enable(&ctx.paths, &ctx.loaded, &args),
        Command::Disable(args) => crate::launchd::agents::disable(&ctx.loaded, &args),
        Command::Status(args) => crate::launchd::status::run(&ctx.paths, &ctx.loaded, None, &args),
        Command::Plist { agent } => crate::launchd::agents::print_plist(&ctx.paths, &ctx.loaded, agent),
        Command::Summary(a) => {
            let jobs = crate::jobs::configured(&ctx.loaded.config);
            crate::commands::summary::run(&ctx.paths, ctx.loaded.config.launchd.interval_s, &jobs, a.since, a.json)
        }
        Command::Page(a) => {
            crate::commands::page::run(&ctx.paths, &ctx.loaded.config, a.since, a.output.as_deref(), a.open)
        }
        Command::Config { action } => config_command(&ctx, action),
        Command::Events(args) => crate::commands::events::run(&ctx.paths, &ctx.loaded.config, &args),
        Command::Silence(args) => crate::commands::silence::run(&ctx.paths, &ctx.loaded.config, &args),
        Command::Init(_)
        | Command::Completions { .. }
        | Command::Man
        | Command::Fleet { .. }
        | Command::Menubar(_)
        | Command::Run(_) => {
            unreachable!("dispatched above")
        }
        Command::Notify { action: NotifyAction::Test { channel, json } } => {
            crate::commands::notify_test::run(&ctx.paths, &ctx.loaded.config, channel.as_deref(), json)
        }
    }
}

/// The defaults, standing in for a config file that does not load (for
/// `status` and `menubar`, which report rather than fail).
fn defaults_standing_in(cli: &Cli) -> Result<(Paths, Loaded)> {
    let paths = Paths::resolve(cli.root.as_deref())?;
    let path = cli.config.as_deref().map_or_else(|| paths.default_config(), crate::paths::absolute);
    let source = Source::File { path, named: cli.config.is_some() };
    Ok((paths, Loaded { config: Config::default(), source, overrides: Vec::new() }))
}

fn plugin_options(p: &crate::cli::PluginArgs, dry_run: bool, force: bool) -> crate::menubar::plugin::Options<'_> {
    crate::menubar::plugin::Options { plugins_dir: p.plugins_dir.as_deref(), app: p.app, dry_run, force }
}

fn init(cli: &Cli, args: &crate::cli::InitArgs) -> Result<u8> {
    let paths = Paths::resolve(cli.root.as_deref())?;
    let config = cli.config.as_deref().map_or_else(|| paths.default_config(), crate::paths::absolute);
    let agents_dir = crate::launchd::agent::agents_dir(&args.agents)?;
    crate::commands::init::run(&paths, &config, &agents_dir, args)
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
            let text = toml::to_string(&ctx.loaded.config.redacted())
                .map_err(|e| fail!("could not print the configuration: {e}"))?;
            println!("# effective configuration: {source}{overrides}\n# secrets are shown as ***\n");
            print!("{}", crate::secret::scrub(&text));
            Ok(0)
        }
    }
}
