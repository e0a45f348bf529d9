/** Settings in electron-store (`<userData>/config.json`), same schema as the web bridge's file store. */
import Store from 'electron-store';
import { DEFAULT_SETTINGS, mergeSettings, type Settings, type SettingsPatch } from '../../shared/ipc/settings.js';
import { parseStoredSettings, type SettingsStore } from '../host/settings-store.js';

export class ElectronSettingsStore implements SettingsStore {
  private readonly store = new Store<Settings>({ name: 'config', defaults: DEFAULT_SETTINGS, clearInvalidConfig: true });
  private current: Settings = parseStoredSettings(this.store.store);

  get(): Settings {
    return this.current;
  }

  async set(patch: SettingsPatch): Promise<Settings> {
    const next = mergeSettings(this.current, patch);
    this.store.store = next;
    this.current = next;
    return next;
  }
}
