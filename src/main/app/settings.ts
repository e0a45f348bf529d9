/**
 * Settings in electron-store (`<userData>/config.json`), same schema as the web bridge's file store.
 * The file is checked with the host's loadSettingsFile first: a damaged one is moved aside and its
 * recoverable values kept (electron-store's own `clearInvalidConfig` would silently reset it).
 */
import { app } from 'electron';
import Store from 'electron-store';
import path from 'node:path';
import { FileWriteError } from '../engine/io/safe-write.js';
import { DEFAULT_SETTINGS, mergeSettings, type Settings, type SettingsPatch } from '../../shared/ipc/settings.js';
import { publishNotice, type StudioNotice } from '../host/notices.js';
import { loadSettingsFile, parseStoredSettings, type SettingsStore } from '../host/settings-store.js';

export class ElectronSettingsStore implements SettingsStore {
  private readonly store: Store<Settings> | undefined;
  private current: Settings;
  private readonly unwritable: string | undefined;
  private readonly raised: StudioNotice[];

  constructor() {
    const state = loadSettingsFile(path.join(app.getPath('userData'), 'config.json'));
    this.raised = state.notices.map((n) => publishNotice(n));
    this.unwritable = state.unwritable;
    this.current = state.settings;
    if (!this.unwritable) {
      this.store = new Store<Settings>({ name: 'config', defaults: DEFAULT_SETTINGS, clearInvalidConfig: false });
      this.current = parseStoredSettings(this.store.store);
    }
  }

  get(): Settings {
    return this.current;
  }

  notices(): StudioNotice[] {
    return [...this.raised];
  }

  async set(patch: SettingsPatch): Promise<Settings> {
    const next = mergeSettings(this.current, patch);
    if (!this.store)
      throw new FileWriteError(`settings were not saved: ${this.unwritable ?? 'the settings file is unusable'}.`, 'config.json');
    this.store.store = next;
    this.current = next;
    return next;
  }
}
