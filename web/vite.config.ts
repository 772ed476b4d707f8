import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The built client ships inside the Python package: `beamwatch serve` serves it at /.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../src/beamwatch/server/static',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4000,
  },
  server: {
    proxy: { '/api': { target: 'http://127.0.0.1:8000', ws: true } },
  },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
