package images

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// RunningImage is what one container of a pod runs, from its status.
type RunningImage struct {
	Pod       string
	Container string
	// ImageID is status.*ContainerStatuses[].imageID as the kubelet wrote it.
	ImageID string
}

// RunningImages lists a pod's init, regular and ephemeral container statuses
// in that order. A nil pod gives nil. Statuses with an empty imageID (not
// pulled yet) are kept: Check counts them as unknown, never as a mismatch.
func RunningImages(pod *corev1.Pod) []RunningImage {
	if pod == nil {
		return nil
	}
	var out []RunningImage
	for _, list := range [][]corev1.ContainerStatus{
		pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses,
	} {
		for _, cs := range list {
			out = append(out, RunningImage{Pod: pod.Name, Container: cs.Name, ImageID: cs.ImageID})
		}
	}
	return out
}

// ImageIDDigest returns the registry manifest digest in a container status
// imageID, and false when it carries none. Accepted forms:
//
//	docker-pullable://host/repo@sha256:…   (dockershim, cri-dockerd)
//	host/repo@sha256:…                     (containerd, CRI-O)
//	any other "scheme://" prefix followed by one of the above
//
// A bare "sha256:…" (or "docker://sha256:…") is the local image ID, the digest
// of the image config, which no registry manifest digest can equal: it is
// reported as unknown, not as a mismatch. So is "" (image not pulled yet).
func ImageIDDigest(imageID string) (string, bool) {
	s := imageID
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "", false
	}
	d := s[at+1:]
	if ValidateDigest(d) != nil {
		return "", false
	}
	return d, true
}
