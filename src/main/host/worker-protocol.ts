/**
 * Messages between the engine host (Electron main process or the web bridge) and the engine
 * worker (Electron utility process or a forked Node process). Client messages pass through
 * unchanged; the host adds `configure` and may pin a job id (to resubmit a queued job after a
 * crash under the id the UI already knows).
 */
import type { ServerMessage } from '../../shared/ipc/protocol.js';
import type { Settings } from '../../shared/ipc/settings.js';
import type { StudioNotice } from './notices.js';

export interface WorkerConfig {
  settings: Settings;
  /** Absolute library folder. */
  libraryDir: string;
}

export type HostToWorker =
  | { kind: 'configure'; config: WorkerConfig }
  /** `request` is validated again by the worker; `jobId` pins the id of a job request. */
  | { kind: 'request'; id: string; request: unknown; jobId?: string };

export type WorkerToHost =
  | ServerMessage
  | { kind: 'ready'; capabilities: string[]; pid: number }
  /** Something the user must be told (e.g. the library index was damaged and rebuilt), see notices.ts. */
  | { kind: 'notice'; notice: StudioNotice };
