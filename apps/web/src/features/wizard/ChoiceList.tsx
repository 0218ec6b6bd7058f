import type { ReactNode } from "react";

export interface Choice<K extends string = string> {
  key: K;
  title: ReactNode;
  detail?: ReactNode;
  disabled?: boolean;
}

/** A radio group drawn as cards: one click anywhere on a card picks it; arrow keys move between cards. */
export function ChoiceList<K extends string>(props: {
  /** For a link that brings the operator back here (a failed precheck's). */
  id?: string;
  name: string;
  legend: string;
  choices: Choice<K>[];
  value: K | undefined;
  onChange(key: K): void;
}) {
  return (
    <fieldset className="choices" id={props.id}>
      <legend>{props.legend}</legend>
      {props.choices.map((c) => (
        <label
          key={c.key}
          className={`choice${c.key === props.value ? " chosen" : ""}${c.disabled ? " disabled" : ""}`}
        >
          <input
            type="radio"
            name={props.name}
            value={c.key}
            checked={c.key === props.value}
            disabled={c.disabled}
            onChange={() => props.onChange(c.key)}
          />
          <span className="choice-title">{c.title}</span>
          {c.detail ? <span className="choice-detail">{c.detail}</span> : null}
        </label>
      ))}
    </fieldset>
  );
}

/** Checkboxes drawn as the same cards, for picking several: `value` holds the keys checked. */
export function CheckList<K extends string>(props: {
  id?: string;
  name: string;
  legend: string;
  choices: Choice<K>[];
  value: readonly K[];
  onToggle(key: K, checked: boolean): void;
}) {
  return (
    <fieldset className="choices" id={props.id}>
      <legend>{props.legend}</legend>
      {props.choices.map((c) => {
        const checked = props.value.includes(c.key);
        return (
          <label key={c.key} className={`choice${checked ? " chosen" : ""}${c.disabled ? " disabled" : ""}`}>
            <input
              type="checkbox"
              name={props.name}
              value={c.key}
              checked={checked}
              disabled={c.disabled}
              onChange={(e) => props.onToggle(c.key, e.target.checked)}
            />
            <span className="choice-title">{c.title}</span>
            {c.detail ? <span className="choice-detail">{c.detail}</span> : null}
          </label>
        );
      })}
    </fieldset>
  );
}
