import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { connectStudio } from './api/connect.js';
import { StudioProvider } from './api/context.js';
import { Studio } from './api/store.js';
import './styles/app.css';

const root = createRoot(document.getElementById('root')!);

async function boot(): Promise<void> {
  try {
    const studio = new Studio(await connectStudio());
    await studio.start();
    root.render(
      <StrictMode>
        <StudioProvider studio={studio}>
          <App />
        </StudioProvider>
      </StrictMode>,
    );
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    root.render(
      <div className="fatal" role="alert" data-testid="connect-error">
        <h1>Inversion Studio could not reach its engine</h1>
        <p>{message}</p>
        <p className="muted">
          In a browser, open the address printed by <code>inversion-studio serve</code> (it carries the access token).
        </p>
        <button type="button" onClick={() => window.location.reload()}>
          Retry
        </button>
      </div>,
    );
  }
}

void boot();
