package notify

import (
	"github.com/slack-go/slack"
)

// Action IDs of the root's buttons; the value of each is the thread's key (Source and root).
const (
	ActionRevert  = "plumbline_revert"
	ActionKeep    = "plumbline_keep"
	ActionSilence = "plumbline_silence"
)

// blocks renders a root: the header, one section per object, the cut notice, the source line
// and, while it is open, the buttons. Without proposals the Keep button is a notice instead.
func (r root) blocks(header, value string, open, proposals bool) []slack.Block {
	mrkdwn := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	out := []slack.Block{slack.NewSectionBlock(mrkdwn(cut(header, maxSectionText)), nil, nil)}
	for _, s := range r.Sections {
		out = append(out, slack.NewSectionBlock(mrkdwn(s), nil, nil))
	}
	if r.Omitted > 0 {
		out = append(out, slack.NewContextBlock("", mrkdwn(omittedLine(r.Omitted))))
	}
	var context []slack.MixedElement
	if r.Footer != "" {
		context = append(context, mrkdwn(r.Footer))
	}
	if open && !proposals {
		context = append(context, mrkdwn("Keep it (open a pull request): not available, pull requests are not configured"))
	}
	if len(context) > 0 {
		out = append(out, slack.NewContextBlock("", context...))
	}
	if open {
		plain := func(s string) *slack.TextBlockObject {
			return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
		}
		revert := slack.NewButtonBlockElement(ActionRevert, value, plain("Revert now"))
		revert.Style = slack.StyleDanger
		elems := []slack.BlockElement{revert}
		if proposals {
			elems = append(elems, slack.NewButtonBlockElement(ActionKeep, value, plain("Keep it (open a pull request)")))
		}
		elems = append(elems, slack.NewButtonBlockElement(ActionSilence, value, plain("Silence 24h")))
		out = append(out, slack.NewActionBlock("plumbline_actions", elems...))
	}
	return out
}

// replyBlocks renders a reply as one section.
func replyBlocks(text string) []slack.Block {
	return []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cut(text, maxSectionText), false, false), nil, nil)}
}
