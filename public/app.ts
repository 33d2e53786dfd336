// Placeholder until the demo lands.
document.body.dataset['ready'] = 'true';
