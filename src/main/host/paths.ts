/** Where the studio keeps its data when no Electron `userData` folder is available (web bridge, CLI). */
import os from 'node:os';
import path from 'node:path';

export const APP_FOLDER = 'inversion-studio';

/**
 * INVERSION_STUDIO_HOME, else `$XDG_DATA_HOME` or `~/.local/share` on Linux, `%APPDATA%` on
 * Windows, `~/Library/Application Support` on macOS; always `<that>/inversion-studio`.
 */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home = os.homedir(),
): string {
  if (env.INVERSION_STUDIO_HOME) return path.resolve(env.INVERSION_STUDIO_HOME);
  if (platform === 'win32') return path.win32.join(env.APPDATA || path.win32.join(home, 'AppData', 'Roaming'), APP_FOLDER);
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', APP_FOLDER);
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.posix.join(home, '.local', 'share');
  return path.posix.join(xdg, APP_FOLDER);
}

/** The library folder: the settings' choice, else `<data dir>/library`. */
export function libraryDirFor(settingsLibraryDir: string | null, dataDir: string): string {
  return path.resolve(settingsLibraryDir ?? path.join(dataDir, 'library'));
}
