/**
 * IPC between renderers and the engine host. One channel each way (IPC_CHANNEL, src/shared/ipc/channels.ts); every
 * inbound message is checked for its sender (the app's own main frame) and then validated by
 * EngineHost like any other client message.
 */
import { ipcMain, type IpcMainEvent, type WebContents } from 'electron';
import type { ClientConnection, EngineHost } from '../host/engine-host.js';
import { IPC_CHANNEL as CHANNEL } from '../../shared/ipc/channels.js';
import { isOwnPage } from './window.js';

function trustedSender(event: IpcMainEvent): boolean {
  const frame = event.senderFrame;
  if (!frame) return false;
  // Only the top-level frame of the app page; never subframes or other origins.
  return frame === event.sender.mainFrame && isOwnPage(frame.url);
}

export function installIpc(host: EngineHost): void {
  const connections = new Map<number, ClientConnection>();

  const connectionFor = (wc: WebContents): ClientConnection => {
    let conn = connections.get(wc.id);
    if (!conn) {
      conn = host.connect((msg) => {
        if (!wc.isDestroyed()) wc.send(CHANNEL, msg);
      });
      connections.set(wc.id, conn);
      const drop = () => {
        connections.get(wc.id)?.close();
        connections.delete(wc.id);
      };
      wc.once('destroyed', drop);
      // A reload starts a new page with its own listeners: the old connection's pending replies are moot.
      wc.on('did-start-navigation', (details) => {
        if (details.isMainFrame && !details.isSameDocument) drop();
      });
    }
    return conn;
  };

  ipcMain.on(CHANNEL, (event, raw: unknown) => {
    if (!trustedSender(event)) {
      console.warn(`studio: rejected IPC from untrusted frame ${event.senderFrame?.url ?? '(gone)'}`);
      event.sender.send(CHANNEL, {
        kind: 'event',
        event: { type: 'error', code: 'FORBIDDEN', message: 'IPC from an untrusted frame', requestId: null },
      });
      return;
    }
    connectionFor(event.sender).handle(raw);
  });
}
