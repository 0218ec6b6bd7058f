import type { Host } from "@blockferry/contracts";
import { Empty } from "../../components/QueryState.tsx";
import { Link } from "../../lib/router.tsx";
import { ChoiceList } from "./ChoiceList.tsx";

/** The hosts as cards; one whose key is not trusted is shown but cannot be picked. */
export function HostChoices(props: {
  id: string;
  legend: string;
  hosts: Host[];
  value?: number;
  onChange(id: number): void;
}) {
  if (props.hosts.length === 0)
    return (
      <Empty>
        No hosts yet. <Link href="/hosts">Add and trust your hypervisors</Link> first.
      </Empty>
    );
  return (
    <ChoiceList
      id={props.id}
      name={props.legend}
      legend={props.legend}
      value={props.value === undefined ? undefined : String(props.value)}
      onChange={(k) => props.onChange(Number(k))}
      choices={props.hosts.map((h) => ({
        key: String(h.id),
        title: h.name,
        detail:
          h.status === "trusted"
            ? `${h.username}@${h.address}:${h.port}`
            : `not usable: host key ${h.status.replace("_", " ")}`,
        disabled: h.status !== "trusted",
      }))}
    />
  );
}
