/**
 * The colour scheme for code that paints by hand (canvas). CSS follows `prefers-color-scheme` by itself; a canvas
 * keeps what it drew, so it reads the palette's custom properties from styles.css and redraws when the scheme flips.
 */
import { useSyncExternalStore } from "react";

export type ColorScheme = "light" | "dark";

const darkQuery = () => window.matchMedia("(prefers-color-scheme: dark)");

function subscribe(onChange: () => void): () => void {
  const q = darkQuery();
  q.addEventListener("change", onChange);
  return () => q.removeEventListener("change", onChange);
}

/** The system's scheme now, re-rendering the caller when it changes. */
export function useColorScheme(): ColorScheme {
  return useSyncExternalStore(subscribe, () => (darkQuery().matches ? "dark" : "light"));
}

/** A palette colour (`--map-copied`) as it applies to `el`; `fallback` if the stylesheet lacks it. */
export function cssColor(el: Element, name: `--${string}`, fallback = "#808080"): string {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

let probe: CanvasRenderingContext2D | null = null;

/** Any CSS colour as red, green and blue bytes, parsed by the browser (a canvas normalises what it is given). */
export function colorBytes(color: string): [number, number, number] {
  probe ??= document.createElement("canvas").getContext("2d");
  if (!probe) return [128, 128, 128];
  probe.fillStyle = "#808080";
  probe.fillStyle = color;
  const normal = String(probe.fillStyle);
  if (normal.startsWith("#")) {
    const n = Number.parseInt(normal.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const [r = 128, g = 128, b = 128] = (normal.match(/\d+(\.\d+)?/g) ?? []).map(Number);
  return [r, g, b];
}
