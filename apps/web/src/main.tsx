import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import { ApiError } from "./lib/api.ts";
import "./styles.css";

// One retry for what may pass (a network blip, a 5xx); a 4xx (a missing job, a refused request) only says it again.
const retry = (failures: number, err: unknown) =>
  failures < 1 && !(err instanceof ApiError && err.status >= 400 && err.status < 500);
const queryClient = new QueryClient({ defaultOptions: { queries: { retry, staleTime: 2_000 } } });

const root = document.getElementById("root");
if (!root) throw new Error("missing #root");
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
