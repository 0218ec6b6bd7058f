import { type ReactNode, useEffect, useId, useRef, useState } from "react";

/**
 * A modal confirmation on the native <dialog>: the browser traps focus, Escape cancels, and the focus returns to
 * the button that opened it. With `typed`, the confirm button stays disabled until the user typed `typed.expected`
 * exactly (for what cannot be undone: the name itself, not a click, says they mean this one).
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  error?: string | null;
  typed?: { expected: string; label: ReactNode };
  onConfirm(): void;
  onCancel(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const inputId = useId();
  const [typedValue, setTypedValue] = useState("");
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      setTypedValue("");
      d.showModal();
    }
    if (!props.open && d.open) d.close();
  }, [props.open]);
  const typedOk = !props.typed || typedValue === props.typed.expected;
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      className="dialog"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      <div className="dialog-body">{props.children}</div>
      {props.typed ? (
        <div className="typed-confirm">
          <label htmlFor={inputId}>{props.typed.label}</label>
          <input
            id={inputId}
            type="text"
            autoComplete="off"
            spellCheck={false}
            value={typedValue}
            onChange={(e) => setTypedValue(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && typedOk && !props.busy) props.onConfirm();
            }}
          />
        </div>
      ) : null}
      {props.error ? (
        <p className="error" role="alert">
          {props.error}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" onClick={props.onCancel} disabled={props.busy}>
          Back
        </button>
        <button
          type="button"
          className={props.danger ? "danger" : "primary"}
          onClick={props.onConfirm}
          disabled={props.busy || !typedOk}
        >
          {props.busy ? "Working…" : props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
