//! `pod-plugin install`: a drop-in `export.js` for Pod's import-video module, which today runs bbb-recorder
//! (`cd $IMPORT_VIDEO_BBB_RECORDER_PLUGIN; node export.js <playback URL> <file name>`) and then takes
//! `<file name>` from `$IMPORT_VIDEO_BBB_RECORDER_PATH`. Ours hands both arguments to `bbb-migrate render` and
//! exits with its status, so an admin swaps Chrome + Xvfb for the native renderer by changing one setting.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::PodPluginCommand;

pub fn run(explicit: Option<&Path>, cmd: PodPluginCommand) -> anyhow::Result<ExitCode> {
    let PodPluginCommand::Install { dir, output } = cmd;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::create_dir_all(&output).with_context(|| format!("cannot create {}", output.display()))?;
    let exe = std::env::current_exe().context("cannot find the bbb-migrate executable")?;
    let absolute = |p: &Path| -> anyhow::Result<PathBuf> {
        p.canonicalize().with_context(|| format!("cannot resolve {}", p.display()))
    };
    let config = match explicit {
        Some(path) => Some(absolute(path)?),
        None => None,
    };
    let script = export_js(&absolute(&exe)?, &absolute(&output)?, config.as_deref());
    let path = dir.join("export.js");
    std::fs::write(&path, script).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    println!("In Pod's settings_local.py:");
    println!("  IMPORT_VIDEO_BBB_RECORDER_PLUGIN = \"{}/\"", absolute(&dir)?.display());
    println!("  IMPORT_VIDEO_BBB_RECORDER_PATH = \"{}/\"", absolute(&output)?.display());
    if config.is_none() {
        println!("The renderer reads its configuration as usual (./bbb-migrate.toml, BBB_MIGRATE_CONFIG, variables).");
    }
    Ok(ExitCode::SUCCESS)
}

/// The script, with the paths baked in as JSON strings (valid JavaScript literals, whatever they contain).
fn export_js(exe: &Path, output: &Path, config: Option<&Path>) -> String {
    let json = |p: &Path| serde_json::to_string(&p.to_string_lossy()).unwrap_or_else(|_| "\"\"".to_owned());
    let config = config.map_or_else(|| "null".to_owned(), json);
    format!(
        r#"#!/usr/bin/env node
// Written by `bbb-migrate pod-plugin install`. Pod's import-video module runs
//   node export.js <playback URL> <file name>
// and then takes <file name> from its IMPORT_VIDEO_BBB_RECORDER_PATH. This renders the recording with
// bbb-migrate (no browser) straight into that directory; the extension picks the format (.webm, .mp4, .mkv).
"use strict";
const {{ spawnSync }} = require("child_process");
const path = require("path");

const BBB_MIGRATE = {exe};
const COPY_TO_PATH = {output};
const CONFIG = {config};

const [url, fileName] = process.argv.slice(2);
if (!url || !fileName) {{
  console.error("usage: node export.js <playback URL> <file name>");
  process.exit(2);
}}
if (path.basename(fileName) !== fileName || fileName.startsWith(".")) {{
  console.error(`refusing file name ${{JSON.stringify(fileName)}}: a plain file name is expected`);
  process.exit(2);
}}
const args = (CONFIG ? ["--config", CONFIG] : []).concat(["render", url, "-o", path.join(COPY_TO_PATH, fileName)]);
const result = spawnSync(BBB_MIGRATE, args, {{ stdio: "inherit" }});
if (result.error) {{
  console.error(`cannot run ${{BBB_MIGRATE}}: ${{result.error.message}}`);
  process.exit(1);
}}
process.exit(result.status === null ? 1 : result.status);
"#,
        exe = json(exe),
        output = json(output),
    )
}
