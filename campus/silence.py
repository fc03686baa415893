"""Why a meter is silent, in people's words (zh-CN first, English complete).

The gateway says it in English (``gateway.bus.ReadFailed.words``, e.g. "no answer from 000012345678 on rs485-1
after 3 tries") with a code (:data:`campus.contract.HEALTH_CODES`). English shows the gateway's words as they are;
Chinese says the code's name and, for the wordings the field bus uses, the same facts in Chinese
("没有应答：rs485-1 上的 000012345678 三次未应答"). A wording not known here is shown after the code's name.
"""

from __future__ import annotations

import re

CODE_WORDS: dict[str, tuple[str, str]] = {
    "no_answer": ("没有应答", "no answer"),
    "checksum": ("校验和错误", "checksum error"),
    "garbled": ("报文无法识别", "garbled frame"),
    "abnormal": ("异常应答", "abnormal reply"),
    "wrong_address": ("应答地址不符", "answer from another address"),
    "link_down": ("通信链路中断", "link down"),
}
ANSWERING = ("正常应答", "answering")
_DIGITS = "零一二三四五六七八九十"


def _zh_count(n: int) -> str:
    return _DIGITS[n] if 0 <= n <= 10 else str(n)


# the field bus's wordings (gateway/bus.py ReadFailed, gateway/protocols' Abnormal) → the same facts in Chinese
_TRIES = r"(?P<who>\S+) on (?P<bus>\S+) after (?P<n>\d+) tr(?:y|ies)"
_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^no answer from {_TRIES}$"), "{bus} 上的 {who} {n}次未应答"),
    (re.compile(rf"^checksum error from {_TRIES}$"), "{bus} 上的 {who} {n}次应答校验和错误"),
    (re.compile(rf"^garbled answer from {_TRIES}(?:: (?P<detail>.+))?$"), "{bus} 上的 {who} {n}次应答无法识别{detail}"),
    (re.compile(rf"^only other addresses answered \((?P<other>.+)\) instead of {_TRIES}"),
     "{bus} 上只有其他地址（{other}）应答，{who} {n}次未应答：同一地址的两块表，或台账中的地址有误？"),
    (re.compile(r"^(?:abnormal reply: )?no such data$"), "无此数据"),
]


def in_chinese(error: str) -> str | None:
    """The field bus's English words in Chinese, if this is one of its wordings."""
    return _zh_detail(error)


def _zh_detail(error: str) -> str | None:
    for pattern, template in _ZH:
        m = pattern.match(error)
        if m is None:
            continue
        found = {k: v or "" for k, v in m.groupdict().items()}
        if "n" in found:
            found["n"] = _zh_count(int(found["n"]))
        if found.get("detail"):
            found["detail"] = f"（{found['detail']}）"
        return template.format(**found)
    return None


def reason(ok: bool, code: str | None, error: str | None, language: str | None) -> str:
    """A meter's last poll outcome in ``language`` ("en…" English, anything else Chinese)."""
    en = (language or "").lower().startswith("en")
    if ok:
        return ANSWERING[1 if en else 0]
    zh_name, en_name = CODE_WORDS.get(code or "", ("读表失败", "read failed"))
    if en:
        return error or en_name
    if not error or error.lower() == en_name:
        return zh_name
    detail = _zh_detail(error)
    return f"{zh_name}：{detail}" if detail else f"{zh_name}（{error}）"
