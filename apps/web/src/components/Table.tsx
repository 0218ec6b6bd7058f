import type { ReactNode } from "react";

/**
 * A data table: one header row naming the columns; the rows are the caller's. It scrolls sideways inside its own
 * box when the screen is narrower than its columns, so the page itself never does.
 */
export function Table({
  label,
  columns,
  className,
  children,
}: {
  label: string;
  columns: readonly string[];
  className?: string;
  children: ReactNode;
}) {
  return (
    <div className="table-scroll">
      <table className={className ? `table ${className}` : "table"} aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
