"""The verification report as one printable HTML page, labelled in Chinese and English.

No script, no external resource: inline CSS with print rules, so a caseworker can open
it offline and print it. Every value goes through the run report's ``esc``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._model import Check, EvidenceRecord, VerificationReport

__all__ = ["render"]

CSS = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;
 margin:1.5em auto;max-width:1100px;color:#222;font-size:14px}
h1{font-size:22px;margin-bottom:.2em} h2{font-size:17px;border-bottom:1px solid #999;
 padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0 1em;width:100%}
td,th{border:1px solid #bbb;padding:3px 6px;font-size:13px;text-align:left;vertical-align:top}
th{background:#eee} td.num{text-align:right}
tr.fail td{background:#fbe3e3} tr.nodata td{background:#fdf3d8} tr.na td{color:#666}
tr.pass td{background:#eef7ee}
.status{font-weight:600;white-space:nowrap} .note{color:#555;font-size:12px}
table.checks td:nth-child(1){width:24%} table.checks td:nth-child(2){width:11%}
table.checks td:nth-child(3){width:22%} table.checks td:nth-child(4){width:10%}
tr.evrow>td{padding:0 6px 6px 24px}
table.ev{width:auto;margin:0} table.ev caption{text-align:left;font-size:12px;color:#555}
table.ev td,table.ev th{font-size:11px;padding:1px 5px;border-color:#ddd;white-space:nowrap}
table.kv{width:auto} table.kv th{width:16em}
code{font-size:12px}
@media print{
 @page{size:A4 landscape;margin:12mm}
 body{margin:0;max-width:none;font-size:11px}
 td,th{font-size:10px}
 tr,li{break-inside:avoid;page-break-inside:avoid}
 h2{break-after:avoid;page-break-after:avoid}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""

STATUS_LABEL = {
    "fail": "不通过 / fail",
    "no data": "无数据 / no data",
    "not applicable": "不适用 / not applicable",
    "pass": "通过 / pass",
}
STATUS_CLASS = {"fail": "fail", "no data": "nodata", "not applicable": "na", "pass": "pass"}
ANSWER_LABEL = {"yes": "符合 / yes", "no": "不符合 / no", "cannot tell": "无法判断 / cannot tell"}
PROGRAMME_LABEL = {
    "dibao": "最低生活保障 / dibao",
    "low_income": "低保边缘 / low income",
    "tekun": "特困供养 / tekun",
}
DEPARTMENT_LABEL = {
    "civil_affairs": "民政",
    "public_security": "公安",
    "health": "卫生健康",
    "medical_insurance": "医疗保障",
    "education": "教育",
    "human_resources": "人力资源社会保障",
    "disabled_persons_federation": "残联",
    "housing": "住房城乡建设",
    "vehicles": "车辆管理",
    "market_regulation": "市场监管",
    "banking": "银行",
    "emergency_management": "应急管理",
    "rural_revitalization": "乡村振兴",
}
KIND_LABEL = {"cross_check": "交叉比对 / cross-check", "exit": "退出 / exit"}


def _esc(value: object) -> str:
    from ..report._html import esc

    return esc("" if value is None else value)


def _label(zh: str, en: str) -> str:
    """Return a bilingual label, "中文 / English", escaped."""
    return _esc(f"{zh} / {en}")


def _dept(source: str) -> str:
    names = [s.strip() for s in source.split(",")]
    return ", ".join(
        f"{_esc(DEPARTMENT_LABEL[s])} / {_esc(s)}" if s in DEPARTMENT_LABEL else _esc(s)
        for s in names
    )


def _table(head: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Rows of already-escaped cells, each with a CSS class."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        f'<tr class="{cls}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        for cls, cells in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _yuan(amount: float | None) -> str:
    return "-" if amount is None else f"{amount:,.2f}"


EVIDENCE_HEAD = (
    _label("记录编号", "Record"),
    _label("类型", "Kind"),
    _label("人员", "Person"),
    _label("发生日期", "Event date"),
    _label("获知日期", "Known date"),
    _label("金额(元)", "Amount (yuan)"),
    _label("取值", "Value"),
)


def _evidence(records: Sequence[EvidenceRecord]) -> str:
    """Return the evidence records as a compact table, one line each."""
    rows = "".join(
        "<tr>"
        f"<td><code>{_esc(r.record_id)}</code></td><td>{_esc(r.kind)}</td>"
        f"<td>{_esc(r.person_id or '-')}</td><td>{_esc(r.event_date)}</td>"
        f"<td>{_esc(r.known_date)}</td>"
        f'<td class="num">{_esc(_yuan(r.amount))}</td><td>{_esc(r.value or "-")}</td>'
        "</tr>"
        for r in records
    )
    head = "".join(f"<th>{h}</th>" for h in EVIDENCE_HEAD)
    return (
        f'<table class="ev"><caption>{_label("证据", "Evidence")} ({len(records)})</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


CHECK_HEAD = (
    _label("核对项目", "Check"),
    _label("部门", "Department"),
    _label("比对内容", "Compared"),
    _label("结论", "Status"),
    _label("核对发现", "Finding"),
)


def _checks(checks: Sequence[Check]) -> str:
    """Return one row per check, its evidence (if any) on a full-width row beneath."""
    body = []
    for c in checks:
        cls = STATUS_CLASS[c.status]
        cells = [
            f"<code>{_esc(c.check_id)}</code><br>{_esc(c.description)}",
            _dept(c.department),
            _esc(c.compared),
            f'<span class="status">{_esc(STATUS_LABEL[c.status])}</span>',
            _esc(c.finding),
        ]
        body.append(f'<tr class="{cls}">' + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        if c.evidence:
            body.append(
                f'<tr class="{cls} evrow"><td colspan="{len(cells)}">'
                f"{_evidence(c.evidence)}</td></tr>"
            )
    head = "".join(f"<th>{h}</th>" for h in CHECK_HEAD)
    return (
        f'<table class="checks"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _household(r: VerificationReport) -> str:
    rows = [
        (_label("家庭编号", "Household"), f"<code>{_esc(r.household_id)}</code>"),
        (_label("核对日期", "As of"), _esc(r.as_of)),
        (_label("地区", "Region"), _esc(r.region_id)),
        (
            _label("城乡", "Urban / rural"),
            _label("城镇", "urban") if r.urban else _label("农村", "rural"),
        ),
        (_label("家庭人口", "Size"), _esc(r.size)),
        (_label("建户日期", "Formed on"), _esc(r.formed_on)),
        (_label("注销日期", "Dissolved on"), _esc(r.dissolved_on or "-")),
        (_label("规则集", "Rule set"), _esc(f"{r.rule_set_id} {r.rule_set_version}")),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _members(r: VerificationReport) -> str:
    if not r.members:
        return f'<p class="note">{_label("无在册成员", "No members on record")}</p>'
    head = [
        _label("成员编号", "Person"),
        _label("关系", "Relation"),
        _label("性别", "Sex"),
        _label("出生日期", "Born"),
        _label("年龄", "Age"),
        _label("残疾等级", "Disability grade"),
        _label("劳动能力", "Able to work"),
        _label("户籍", "Hukou"),
        _label("入户日期", "Joined"),
    ]
    rows = [
        (
            "",
            [
                f"<code>{_esc(m.person_id)}</code>",
                _esc(m.relation),
                _esc(m.sex),
                _esc(m.birth_date),
                _esc(m.age),
                _esc(m.disability_grade or "-"),
                _label("有", "yes") if m.able_to_work else _label("无", "no"),
                _esc(m.hukou),
                _esc(m.joined_on),
            ],
        )
        for m in r.members
    ]
    return _table(head, rows)


def _summary(r: VerificationReport) -> str:
    counts = r.status_counts()
    cells = "".join(
        f'<tr class="{STATUS_CLASS[s]}"><th>{_esc(STATUS_LABEL[s])}</th>'
        f'<td class="num">{n}</td></tr>'
        for s, n in counts.items()
    )
    note = _label(
        "“无数据”表示该部门没有该户记录，无法核对，不等于通过",
        '"no data": the department holds no record of the household, so nothing was '
        'verified; it is not a "pass"',
    )
    return f'<table class="kv">{cells}</table><p class="note">{note}</p>'


def _income(r: VerificationReport) -> str:
    a = r.income
    rows = [
        (_label("核定记录", "Assessment record"), f"<code>{_esc(a.record_id or '-')}</code>"),
        (_label("类型", "Kind"), _esc(a.kind or "-")),
        (_label("结论", "Decision"), _esc(a.decision or "-")),
        (_label("核定日期", "Assessed on"), _esc(a.event_date or "-")),
        (
            _label("核定人均月收入", "Assessed income per person per month"),
            _esc(_yuan(a.amount)),
        ),
        (_label("低保标准", "Dibao standard"), _esc(_yuan(a.dibao_standard))),
        (
            _label("低收入线", "Low-income line"),
            _esc(f"{_yuan(a.low_income_line)} (x {a.low_income_multiplier:g})"),
        ),
        (_label("特困标准", "Tekun standard"), _esc(_yuan(a.tekun_standard))),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    head = [
        _label("救助项目", "Programme"),
        _label("是否符合", "Qualifies"),
        _label("理由", "Why"),
    ]
    programmes = _table(
        head,
        [
            (
                {"yes": "pass", "no": "", "cannot tell": "nodata"}[p.answer],
                [
                    _esc(PROGRAMME_LABEL.get(p.programme, p.programme)),
                    f'<span class="status">{_esc(ANSWER_LABEL[p.answer])}</span>',
                    _esc(p.reason),
                ],
            )
            for p in a.programmes
        ],
    )
    return f'<table class="kv">{body}</table>{programmes}'


def render(report: VerificationReport) -> str:
    """Return the whole HTML document of ``report``."""
    from .. import __version__

    rules = [c for c in report.checks if c.kind != "department"]
    departments = [c for c in report.checks if c.kind == "department"]
    sections = [
        ("household", _label("家庭基本情况", "Household"), _household(report)),
        ("members", _label("家庭成员", "Members"), _members(report)),
        ("summary", _label("核对结论汇总", "Summary"), _summary(report)),
        (
            "checks",
            _label("部门比对核对", "Cross-checks and exits"),
            _checks(rules),
        ),
        (
            "departments",
            _label("各部门数据", "Records by department"),
            _checks(departments),
        ),
        ("income", _label("收入核定与救助标准", "Assessed income and standards"), _income(report)),
    ]
    body = "\n".join(
        f'<section id="{sid}">\n<h2>{h}</h2>\n{b}\n</section>' for sid, h, b in sections
    )
    title_zh, title_en = "家庭经济状况核对报告", "Household verification report"
    footer = _label(
        "本报告含个人信息，仅供经办人员使用",
        "This report holds personal data: for the caseworker's use only",
    )
    return (
        "<!doctype html>\n"
        '<html lang="zh-Hans"><head><meta charset="utf-8">'
        f"<title>{_esc(title_zh)} / {_esc(title_en)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_label(title_zh, title_en)}</h1>\n{body}\n"
        f'<p class="note">{footer}. needsid {_esc(__version__)}</p>\n'
        "</body></html>\n"
    )
