"""The summary printed at the end of a run."""
from __future__ import annotations

from typing import Any, Dict

from .data.base import TaskInfo


def summary(metrics: Dict[str, Any], task: TaskInfo, run_dir: str) -> str:
    lines = []
    if task.is_detection:
        lines.append(f"{'class':<16}{'train boxes':>12}{'AP easy':>9}{'moderate':>10}{'hard':>7}")
        for name, count in zip(task.names, task.train_counts):
            ap = metrics["ap"][name]
            cells = "".join(f"{('-' if ap[r] is None else f'{ap[r]:.2f}'):>{w}}" for r, w in (("easy", 9), ("moderate", 10), ("hard", 7)))
            lines.append(f"{name[:16]:<16}{int(count):>12}{cells}")
        lines.append(f"KITTI 2D AP ({metrics['ap_points']}-point, {metrics['ap_class']}): moderate "
                     + ("-" if metrics["ap_moderate"] is None else f"{metrics['ap_moderate']:.2f}"))
    elif task.is_multiclass:
        recalls = metrics["per_class_recall"]
        if len(recalls) <= 20:
            lines.append(f"{'class':<16}{'train imgs':>11}{'recall %':>10}")
            for name, count in zip(task.names, task.train_counts):
                value = recalls[name]
                lines.append(f"{name[:16]:<16}{int(count):>11}{('-' if value is None else f'{value:.2f}'):>10}")
        lines.append(f"top-1 {metrics['top1']:.2f}   mean class recall {metrics['mean_class_recall']:.2f}")
        groups = [f"{g} {metrics[f'{g}_shot']:.2f}" for g in ("many", "medium", "few") if metrics.get(f"{g}_shot") is not None]
        if groups:
            lines.append("shot groups (train imgs >100 / 20-100 / <20): " + "   ".join(groups))
    else:
        pos_rate = task.train_counts / max(1, task.num_train) * 100
        lines.append(f"{'attribute':<22}{'train pos %':>12}{'mA %':>8}")
        for name, rate in zip(task.names, pos_rate):
            lines.append(f"{name:<22}{rate:>12.1f}{metrics['per_attribute_mA'][name]:>8.2f}")
        for group, value in (metrics.get("group_mA") or {}).items():
            lines.append(f"group {group}: mA {value:.2f}")
        lines.append(
            f"mA {metrics['mA']:.2f}   instance acc {metrics['instance_accuracy']:.2f}  "
            f"prec {metrics['instance_precision']:.2f}  rec {metrics['instance_recall']:.2f}  F1 {metrics['instance_f1']:.2f}"
        )
    lines.append(f"run folder: {run_dir}")
    return "\n".join(lines)
